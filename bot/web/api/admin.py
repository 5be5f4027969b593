"""The caller's own account and API keys, user management (admin), DSGVO erasure by caller number (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session

from bot.store import repo
from bot.store.models import User
from bot.store.spool import spool_dir
from bot.web import services
from bot.web.api.schemas import (ApiKeyCreated, ApiKeyIn, ApiKeyOut, DeleteCallerIn, DeletionOut, PasswordChange,
                                 UserCreate, UserOut, UserPatch)
from bot.web.deps import api_user, get_db
from bot.web.fields import PathId
from bot.web.security import require_role, start_session

router = APIRouter()


@router.get("/me", response_model=UserOut, tags=["account"])
def me(user: User = Depends(api_user)) -> dict:
    return services.user_dict(user)


@router.get("/me/api-keys", response_model=list[ApiKeyOut], tags=["account"])
def list_keys(user: User = Depends(api_user), db: Session = Depends(get_db)) -> list[dict]:
    return [{"id": k.id, "name": k.name, "prefix": k.prefix, "created_at": k.created_at,
             "last_used_at": k.last_used_at, "revoked": k.revoked_at is not None} for k in services.api_keys(db, user)]


@router.post("/me/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["account"])
def create_key(body: ApiKeyIn, user: User = Depends(api_user), db: Session = Depends(get_db)) -> dict:
    """A new API key for the caller; the key is in this answer only."""
    row, key = repo.create_api_key(db, user, body.name)
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "key": key}


@router.delete("/me/api-keys/{key_id}", status_code=204, tags=["account"])
def revoke_key(key_id: PathId, user: User = Depends(api_user), db: Session = Depends(get_db)) -> Response:
    if services.own_api_key(db, user, key_id) is None:
        raise HTTPException(404, f"There is no API key {key_id}.")
    repo.revoke_api_key(db, key_id)
    return Response(status_code=204)


@router.post("/me/password", status_code=204, tags=["account"])
def change_password(body: PasswordChange, request: Request, user: User = Depends(api_user),
                    db: Session = Depends(get_db)) -> Response:
    """A new password for the caller (the current one is asked for). Every session cookie of the account issued
    before ends, except the one making this request; API keys stay valid."""
    if not repo.check_password(user, body.current_password):
        raise HTTPException(422, "The current password is not correct.")
    repo.set_password(db, user, body.new_password)
    if getattr(request.state, "auth_via", None) == "session":
        start_session(request, user)
    return Response(status_code=204)


@router.post("/me/sessions/revoke", status_code=204, tags=["account"])
def revoke_sessions(request: Request, user: User = Depends(api_user), db: Session = Depends(get_db)) -> Response:
    """End every session cookie of the caller's account (except the one making this request); API keys stay."""
    repo.revoke_sessions(db, user)
    if getattr(request.state, "auth_via", None) == "session":
        start_session(request, user)
    return Response(status_code=204)


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(user: User = Depends(api_user), db: Session = Depends(get_db)) -> list[dict]:
    require_role(user, "admin")
    from sqlalchemy import select

    return [services.user_dict(u) for u in db.scalars(select(User).order_by(User.email))]


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(body: UserCreate, user: User = Depends(api_user), db: Session = Depends(get_db)) -> dict:
    """Create a login (admin): company users and secretaries are linked to their companies."""
    require_role(user, "admin")
    created = repo.create_user(db, body.email, body.password, body.role, companies=body.companies, name=body.name)
    return services.user_dict(created)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"])
def update_user(user_id: PathId, body: UserPatch, user: User = Depends(api_user),
                db: Session = Depends(get_db)) -> dict:
    require_role(user, "admin")
    target = db.get(User, user_id)
    if target is None:
        raise HTTPException(404, f"There is no user {user_id}.")
    return services.user_dict(services.update_user(db, target, **body.model_dump(exclude_unset=True)))


@router.post("/privacy/delete-caller", response_model=DeletionOut, tags=["privacy"])
def delete_caller(body: DeleteCallerIn, request: Request, user: User = Depends(api_user),
                  db: Session = Depends(get_db)) -> dict:
    """Erase everything about one caller number (DSGVO Art. 17): calls, transcripts, recordings, messages (also
    those still spooled), pending notifications. The number is sent in the body so that it never appears in
    access logs."""
    require_role(user, "admin")
    return repo.delete_caller_data(db, body.number, spool_dir(request.app.state.settings)).__dict__
