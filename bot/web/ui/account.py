"""The user's account (API keys), user management (admin) and DSGVO erasure by caller number (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from bot.store import repo
from bot.store.models import ROLES, User
from bot.store.passwords import MIN_PASSWORD_LENGTH
from bot.store.spool import spool_dir
from bot.store.validate import InvalidInput
from bot.web import services
from bot.web.api.schemas import ApiKeyIn, DeleteCallerIn, UserCreate
from bot.web.deps import get_db, ui_user
from bot.web.fields import PASSWORD_MAX, PathId, validated
from bot.web.i18n import request_lang, translator
from bot.web.security import require_role, start_session
from bot.web.ui.common import redirect, render, text_form

router = APIRouter()


@router.get("/account")
def account_page(request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    return render(request, "account.html", keys=services.api_keys(db, user), new_key=None)


@router.post("/account/api-keys")
def create_key(request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
               db: Session = Depends(get_db)):
    name = validated(ApiKeyIn, {"name": str(form.get("name", "")).strip() or "API"}).name
    _, key = repo.create_api_key(db, user, name)
    return render(request, "account.html", keys=services.api_keys(db, user), new_key=key)


@router.post("/account/api-keys/{key_id}/revoke")
def revoke_key(key_id: PathId, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    if services.own_api_key(db, user, key_id) is None:
        raise HTTPException(404, f"There is no API key {key_id}.")
    repo.revoke_api_key(db, key_id)
    return redirect("/account", ok=translator(request_lang(request))("key_revoked"))


@router.post("/account/password")
def change_password(request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                    db: Session = Depends(get_db)):
    """A new password for the logged-in user; every other session of the account ends, this one goes on."""
    t = translator(request_lang(request))
    new = str(form.get("new_password", ""))
    if not repo.check_password(user, str(form.get("current_password", ""))[:PASSWORD_MAX]):
        error = t("password_current_wrong")
    elif new != str(form.get("new_password_repeat", "")):
        error = t("password_repeat_differs")
    elif not MIN_PASSWORD_LENGTH <= len(new) <= PASSWORD_MAX:
        error = t("password_length", min=MIN_PASSWORD_LENGTH, max=PASSWORD_MAX)
    else:
        repo.set_password(db, user, new)
        start_session(request, user)
        return redirect("/account", ok=t("password_changed"))
    return render(request, "account.html", status_code=422, keys=services.api_keys(db, user), new_key=None,
                  password_error=error)


@router.post("/account/sessions/revoke")
def revoke_sessions(request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    """Log out everywhere else (a lost laptop, a shared PC): every other session of this account ends."""
    repo.revoke_sessions(db, user)
    start_session(request, user)
    return redirect("/account", ok=translator(request_lang(request))("sessions_revoked"))


@router.get("/users")
def users_page(request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    require_role(user, "admin")
    return render(request, "users.html", users=list(db.scalars(select(User).order_by(User.email))),
                  companies=repo.list_companies(db), roles=ROLES, error=None)


@router.post("/users")
def create_user(request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                db: Session = Depends(get_db)):
    require_role(user, "admin")
    try:
        body = validated(UserCreate, {"email": form.get("email", ""), "password": form.get("password", ""),
                                      "role": form.get("role", ""), "companies": form.getlist("companies"),
                                      "name": str(form.get("name", "")) or None})
        repo.create_user(db, body.email, body.password, body.role, companies=body.companies, name=body.name)
    except InvalidInput as exc:
        db.rollback()
        return render(request, "users.html", status_code=422, users=list(db.scalars(select(User).order_by(User.email))),
                      companies=repo.list_companies(db), roles=ROLES, error=str(exc))
    return redirect("/users", ok=translator(request_lang(request))("saved"))


@router.post("/users/{user_id}/active")
def toggle_user(user_id: PathId, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                db: Session = Depends(get_db)):
    require_role(user, "admin")
    target = db.get(User, user_id)
    if target is None:
        raise HTTPException(404, f"There is no user {user_id}.")
    if target.id == user.id:
        raise HTTPException(422, "You cannot deactivate your own account.")
    services.update_user(db, target, active=form.get("active") == "1")
    return redirect("/users", ok=translator(request_lang(request))("saved"))


@router.get("/privacy")
def privacy_page(request: Request, user: User = Depends(ui_user)):
    require_role(user, "admin")
    return render(request, "privacy.html", report=None, error=None)


@router.post("/privacy")
def delete_caller(request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                  db: Session = Depends(get_db)):
    require_role(user, "admin")
    try:
        number = validated(DeleteCallerIn, {"number": form.get("number", "")}).number
        report = repo.delete_caller_data(db, number, spool_dir(request.app.state.settings))
    except InvalidInput as exc:
        return render(request, "privacy.html", status_code=422, report=None, error=str(exc))
    return render(request, "privacy.html", report=report, error=None)
