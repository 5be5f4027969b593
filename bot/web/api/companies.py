"""Companies: list, create, read, change, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.store import repo
from bot.store.models import User
from bot.web import services
from bot.web.api.schemas import CompanyCreate, CompanyFields, CompanyOut
from bot.web.deps import api_user, get_db, get_settings
from bot.web.security import company_for, managed_company_ids, require_editable, require_role

router = APIRouter(prefix="/companies", tags=["companies"])


@router.get("", response_model=list[CompanyOut])
def list_companies(user: User = Depends(api_user), db: Session = Depends(get_db)) -> list[dict]:
    """Companies the caller manages (all for an admin, their own for a company user)."""
    require_role(user, "admin", "company_user")
    return [repo.company_to_dict(c) for c in repo.list_companies(db, managed_company_ids(user))]


@router.post("", response_model=CompanyOut, status_code=201)
def create_company(body: CompanyCreate, user: User = Depends(api_user), db: Session = Depends(get_db),
                   settings: Settings = Depends(get_settings)) -> dict:
    """Create a company (admin). Invalid values: 422 with a plain-words reason."""
    require_role(user, "admin")
    fields = body.model_dump(exclude_unset=True, exclude={"slug"})
    return repo.company_to_dict(services.save_company(db, fields, settings=settings, slug=body.slug))


@router.get("/{slug}", response_model=CompanyOut)
def get_company(slug: str, user: User = Depends(api_user), db: Session = Depends(get_db)) -> dict:
    return repo.company_to_dict(company_for(db, user, slug))


@router.patch("/{slug}", response_model=CompanyOut)
def update_company(slug: str, body: CompanyFields, user: User = Depends(api_user),
                   db: Session = Depends(get_db), settings: Settings = Depends(get_settings)) -> dict:
    """Change the fields sent; ``phone_numbers`` replaces the whole set."""
    company = company_for(db, user, slug)
    changes = body.model_dump(exclude_unset=True)
    require_editable(user, changes)
    return repo.company_to_dict(services.save_company(db, changes, settings=settings, company=company))


@router.delete("/{slug}", status_code=204)
def delete_company(slug: str, request: Request, user: User = Depends(api_user),
                   db: Session = Depends(get_db)) -> Response:
    """Delete a company with its calls, messages and documents (admin)."""
    require_role(user, "admin")
    company = company_for(db, user, slug)
    services.delete_company(db, request.app.state.settings, company)
    return Response(status_code=204)


