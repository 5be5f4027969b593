"""Dashboard, companies (list, create, edit), FAQ page (documents, upload, test question) and FAQ gaps (new
entries, labelling gaps for the knowledge base to learn from, forgetting learned questions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from bot import voices
from bot.brain import company_fields
from bot.brain.company_fields import COMPANY_FIELDS, FORM_SECTIONS, CompanyField
from bot.runtime import documents
from bot.runtime.voice_sample import UnknownVoice, sample_wav
from bot.runtime import knowledge as kb
from bot.store import repo
from bot.store.models import User
from bot.store.validate import InvalidInput, bundesland_codes
from bot.web import services
from bot.web.api.schemas import AskIn, CompanyCreate, CompanyFields, FaqEntryIn, ForgetIn
from bot.web.deps import get_db, ui_user
from bot.web.fields import parse_ids, validated
from bot.web.i18n import request_lang, translator
from bot.web.security import company_for, managed_company_ids, require_role
from bot.web.ui.common import redirect, render, text_form

router = APIRouter()
LEARNED_SHOWN = 200  # newest learned questions listed on the gap page; the API lists all


@router.get("/")
def dashboard(request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    if user.role == "secretary":
        return redirect("/inbox")
    ids = managed_company_ids(user)
    return render(request, "dashboard.html", stats=services.stats(db, repo.visible_company_ids(user)),
                  companies=repo.list_companies(db, ids),
                  recent=repo.list_messages(db, company_ids=repo.visible_company_ids(user), status="new", limit=5),
                  calls=repo.list_calls(db, company_ids=ids, limit=5))


@router.get("/companies")
def companies_page(request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    require_role(user, "admin", "company_user")
    return render(request, "companies.html", companies=repo.list_companies(db, managed_company_ids(user)))


def _form_value(form: Any, f: CompanyField) -> Any:
    """One setting from the form as the store expects it; ``...`` when the form does not carry it."""
    if f.kind == "languages":
        return form.getlist(f.name) or []
    if f.kind == "phones":
        return [line.strip() for line in str(form.get(f.name, "")).splitlines() if line.strip()]
    if f.kind == "flag":
        return form.get(f.name) == "on"  # an unticked checkbox is not sent at all
    if f.kind in ("int", "float"):
        raw = str(form.get(f.name, "")).strip().replace(",", ".")
        if not raw:
            return ...
        try:
            return int(raw) if f.kind == "int" else float(raw)
        except ValueError:
            raise InvalidInput(f"{f.what} must be a number, not {raw!r}") from None
    return form.get(f.name, "") if f.name in form else ...


def form_fields(form: Any, schema: type[BaseModel] = CompanyFields,
                fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    """Company settings from the edit form, as the store expects them (checkbox absent = off), within the API
    schema's bounds (lengths, control characters, choices). Every field of the model with a form label is read."""
    values = {f.name: _form_value(form, f) for f in fields if f.label and f.kind != "secret"}
    values = {key: value for key, value in values.items() if value is not ...}
    if form.get("new_webhook_secret") == "on":
        import secrets

        values["webhook_secret"] = services.SECRET_PREFIX + secrets.token_urlsafe(24)
    if "languages" in values and not values["languages"]:
        raise InvalidInput("choose at least one language the company answers in")
    validated(schema, {k: v for k, v in {**values, "slug": form.get("slug", "")}.items() if v != ""})
    return values


def editable_part(user: User, values: dict[str, Any],
                  fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    """What of a submitted form ``user`` may change: a company user's form shows admin-only settings disabled
    (browsers do not send them), so they are left as they are instead of being read as cleared."""
    if user.role == "admin":
        return values
    locked = {f.name for f in fields if not f.company_editable}
    return {key: value for key, value in values.items() if key not in locked}


def form_layout(fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> list[tuple[str, list[list[CompanyField]]]]:
    """The settings form: per fieldset, rows of fields (fields sharing a ``row`` stand side by side, where the
    first of them is). The template renders each field by its kind, so a new setting needs no template edit."""
    layout: list[tuple[str, list[list[CompanyField]]]] = []
    for section in FORM_SECTIONS:
        rows: list[list[CompanyField]] = []
        by_row: dict[str, list[CompanyField]] = {}
        for f in fields:
            if f.section != section or not f.label:
                continue
            if f.row is None:
                rows.append([f])
            elif f.row in by_row:
                by_row[f.row].append(f)
            else:
                by_row[f.row] = [f]
                rows.append(by_row[f.row])
        layout.append((section, rows))
    return layout


def edit_context(company: Any = None, values: dict | None = None,
                 fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    data = values or (repo.company_to_dict(company) if company else company_fields.defaults(fields))
    return {"company": company, "values": data, "bundeslaender": bundesland_codes(), "layout": form_layout(fields),
            "voice_choices": voice_choices(fields)}


def voice_choices(fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, list[voices.Voice]]:
    """Per language of a voice field, the voices installed here (the form offers only these, with their licence)."""
    return {f.language: voices.installed_voices(f.language) for f in fields if f.kind == "voice" and f.language}


@router.get("/companies/new")
def new_company_page(request: Request, user: User = Depends(ui_user)):
    require_role(user, "admin")
    return render(request, "company_edit.html", error=None, **edit_context())


@router.post("/companies/new")
def create_company(request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                   db: Session = Depends(get_db)):
    require_role(user, "admin")
    slug = str(form.get("slug", "")).strip()
    try:
        fields = form_fields(form, CompanyCreate)
        company = services.save_company(db, fields, settings=request.app.state.settings, slug=slug)
    except InvalidInput as exc:
        db.rollback()
        values = {**{k: form.get(k) for k in form}, "slug": slug, "languages": form.getlist("languages"),
                  "phone_numbers": str(form.get("phone_numbers", "")).splitlines()}
        return render(request, "company_edit.html", status_code=422, error=str(exc), **edit_context(None, values))
    return redirect(f"/companies/{company.slug}", ok=translator(request_lang(request))("saved"))


@router.get("/companies/{slug}")
def edit_company_page(slug: str, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    company = company_for(db, user, slug)
    return render(request, "company_edit.html", error=None, **edit_context(company))


@router.post("/companies/{slug}")
def update_company(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                   db: Session = Depends(get_db)):
    company = company_for(db, user, slug)
    try:
        fields = editable_part(user, form_fields(form))
        services.save_company(db, fields, settings=request.app.state.settings, company=company)
    except InvalidInput as exc:
        db.rollback()
        values = {**repo.company_to_dict(company), **{k: form.get(k) for k in form},
                  "languages": form.getlist("languages"),
                  "phone_numbers": str(form.get("phone_numbers", "")).splitlines(),
                  **{f.name: form.get(f.name) == "on" for f in COMPANY_FIELDS if f.kind == "flag"}}
        return render(request, "company_edit.html", status_code=422, error=str(exc), **edit_context(company, values))
    return redirect(f"/companies/{slug}", ok=translator(request_lang(request))("saved"))


@router.get("/companies/{slug}/voice-sample")
def voice_sample(slug: str, request: Request, language: str = "de", voice: str = "", user: User = Depends(ui_user),
                 db: Session = Depends(get_db)):
    """The "listen" button: a short sample in one of the installed voices (WAV), for the company's own users."""
    company = company_for(db, user, slug)
    try:
        data = sample_wav(request.app.state.settings, company.name, language, voice.strip() or None)
    except UnknownVoice as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "private, max-age=300"})


@router.post("/companies/{slug}/delete")
def delete_company(slug: str, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    require_role(user, "admin")
    company = company_for(db, user, slug)
    services.delete_company(db, request.app.state.settings, company)
    return redirect("/companies", ok=translator(request_lang(request))("deleted"))


@router.get("/companies/{slug}/faq")
def faq_page(slug: str, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    company = company_for(db, user, slug)
    docs = documents.list_documents(request.app.state.settings, company.slug)
    return render(request, "faq.html", company=company, documents=docs,
                  phrasings=documents.phrasings(request.app.state.settings, company.slug),
                  max_mb=documents.limits().max_file_bytes // (1024 * 1024))


@router.post("/companies/{slug}/faq/phrasing/remove")
def remove_phrasing(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                    db: Session = Depends(get_db)):
    """A reviewer removes a caller phrasing the language model wrote: it leaves the index at once."""
    company = company_for(db, user, slug)
    document, phrasing = str(form.get("document", "")), str(form.get("phrasing", ""))
    if not documents.reject_phrasing(request.app.state.settings, company.slug, document, phrasing):
        raise HTTPException(404, "There is no such generated phrasing.")
    return redirect(f"/companies/{slug}/faq", ok=translator(request_lang(request))("phrasing_removed"))


@router.get("/companies/{slug}/faq/documents")
def documents_fragment(slug: str, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    """The documents table alone (htmx refresh after an upload)."""
    company = company_for(db, user, slug)
    return render(request, "_documents.html", company=company,
                  documents=documents.list_documents(request.app.state.settings, company.slug))


@router.post("/companies/{slug}/faq/delete")
def delete_document(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                    db: Session = Depends(get_db)):
    company = company_for(db, user, slug)
    name = str(form.get("name", ""))
    try:
        found = documents.remove(request.app.state.settings, company.slug, name)
    except documents.StorageFailed as exc:
        raise HTTPException(503, str(exc)) from None
    if not found:
        raise HTTPException(404, f"There is no document {name!r}.")
    return redirect(f"/companies/{slug}/faq", ok=translator(request_lang(request))("document_deleted", name=name))


@router.post("/companies/{slug}/faq/ask")
def ask(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
        db: Session = Depends(get_db)):
    """The test question box (htmx): renders what a caller would hear."""
    company = company_for(db, user, slug)
    question = str(form.get("question", "")).strip()
    language = str(form.get("language", "")) or None
    if not question:
        return render(request, "_answer.html", answer=None, error=translator(request_lang(request))("ask_empty"))
    try:
        body = validated(AskIn, {"question": question, "language": language})
    except InvalidInput as exc:
        return render(request, "_answer.html", status_code=422, answer=None, error=str(exc))
    answer = kb.caller_answer(request.app.state.settings, company, body.question, body.language)
    return render(request, "_answer.html", answer=answer, error=None)


@router.get("/companies/{slug}/gaps")
def gaps_page(slug: str, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    company = company_for(db, user, slug)
    settings = request.app.state.settings
    learned = kb.learned(settings, company.slug)
    return render(request, "gaps.html", company=company, groups=repo.faq_gap_groups(db, company),
                  manual=documents.manual_entries(settings, company.slug),
                  entry_questions=kb.entry_questions(settings, company.slug), learning=kb.learned_summary(
                      settings, company.slug), learned=learned[:LEARNED_SHOWN], learned_total=len(learned))


@router.post("/companies/{slug}/gaps")
def add_gap_entry(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                  db: Session = Depends(get_db)):
    """One click from an unanswered question to an FAQ entry: stored, indexed, and the gap group closed."""
    company = company_for(db, user, slug)
    question, answer = str(form.get("question", "")).strip(), str(form.get("answer", "")).strip()
    t = translator(request_lang(request))
    if len(question) < 3 or not answer:
        return redirect(f"/companies/{slug}/gaps", ok=t("gap_need_both"))
    entry = validated(FaqEntryIn, {"question": question, "answer": answer,
                                   "language": str(form.get("language", "")) or None})
    gap_ids = parse_ids(str(form.get("gap_ids", "")))
    result = documents.add_manual_entry(request.app.state.settings, company.slug, entry.question, entry.answer,
                                        entry.language)
    if not result.ok:
        return redirect(f"/companies/{slug}/gaps", ok=result.error or "")
    own = {gid for g in repo.faq_gap_groups(db, company, limit=10000) for gid in g.gap_ids}
    repo.resolve_faq_gaps(db, [g for g in gap_ids if g in own])
    return redirect(f"/companies/{slug}/gaps", ok=t("entry_added"))


@router.post("/companies/{slug}/gaps/label")
def label_gap(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
              db: Session = Depends(get_db)):
    """A gap group filed under an existing entry ("file") or marked as no FAQ topic ("not_covered"): the knowledge
    base learns from it and the group closes."""
    company = company_for(db, user, slug)
    t = translator(request_lang(request))
    gap_ids = parse_ids(str(form.get("gap_ids", "")))
    not_covered = form.get("action") == "not_covered"
    entry = None if not_covered else str(form.get("entry_question", "")).strip()
    if entry == "":
        return redirect(f"/companies/{slug}/gaps", ok=t("gap_choose_entry"))
    if entry is not None:
        entry = validated(ForgetIn, {"question": entry}).question  # an entry question's bounds
    try:
        done = services.label_gaps(db, request.app.state.settings, company, gap_ids, entry)
    except kb.LearnRefused as exc:
        return redirect(f"/companies/{slug}/gaps", ok=str(exc))
    if not done["resolved"]:
        return redirect(f"/companies/{slug}/gaps", ok=t("gap_already_closed"))
    return redirect(f"/companies/{slug}/gaps", ok=t("gap_not_covered_done") if not_covered
                    else t("gap_filed", entry=entry))


@router.post("/companies/{slug}/gaps/forget")
def forget_learned(slug: str, request: Request, form: FormData = Depends(text_form), user: User = Depends(ui_user),
                   db: Session = Depends(get_db)):
    """Take one learned caller question back (e.g. filed under the wrong entry by mistake)."""
    company = company_for(db, user, slug)
    question = str(form.get("question", ""))
    t = translator(request_lang(request))
    if question.strip():
        question = validated(ForgetIn, {"question": question}).question
    found = kb.forget(request.app.state.settings, company.slug, question)
    return redirect(f"/companies/{slug}/gaps", ok=t("learned_forgotten" if found else "learned_not_found",
                                                     question=question))
