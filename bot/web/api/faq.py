"""FAQ documents (multi-file upload, list, delete), the test question, FAQ gaps, entries added by hand, and the
caller questions the knowledge base learned from labelled gaps."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, File, HTTPException, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from bot.runtime import documents
from bot.runtime import knowledge as kb
from bot.store import repo
from bot.store.models import User
from bot.web import services
from bot.web.api.schemas import (
    AskIn,
    AskOut,
    DocumentOut,
    FaqEntryIn,
    ForgetIn,
    GapGroupOut,
    GapLabelIn,
    GapLabelOut,
    LearnedOut,
    UploadReport,
)
from bot.web.deps import api_user, get_db
from bot.web.fields import MAX_BODY_BYTES, QUESTION_MAX
from bot.web.security import company_for
from knowledge.documents import IngestError
from knowledge.ingest import check_size

router = APIRouter(prefix="/companies/{slug}", tags=["faq"])
MAX_FILES = 20


def too_large(files: list[UploadFile]) -> str | None:
    """The plain-words reason when any file is over the limit (checked before anything is stored)."""
    for upload in files:
        try:
            name = documents.safe_name(upload.filename or "")
        except documents.InvalidName:
            name = "a file"
        try:
            check_size(upload.size or 1, name, documents.limits())
        except IngestError as exc:
            return str(exc)
    return None


def bad_name(files: list[UploadFile]) -> str | None:
    """The plain-words reason when any file's name leaves nothing to call it by (checked before anything is
    stored, so a request is stored whole or not at all)."""
    for upload in files:
        try:
            documents.safe_name(upload.filename or "")
        except documents.InvalidName as exc:
            return str(exc)
    return None


def upload_report(results: list[documents.UploadResult]) -> JSONResponse:
    """200 when any file was stored; else 422 whose ``detail`` says why each file was not."""
    rows = [{"name": r.name, "ok": r.ok, "status": r.status, "entries": r.entries, "replaced": r.replaced,
             "error": r.error, "warnings": list(r.warnings)} for r in results]
    if any(r.ok for r in results):
        return JSONResponse({"results": rows})
    detail = " ".join(f"{r.name}: {r.error}" for r in results if r.error) or "No document could be stored."
    return JSONResponse({"detail": detail, "results": rows}, status_code=422)


async def handle_upload(request: Request, slug: str, files: list[UploadFile]) -> JSONResponse:
    """Store every file (or none: any file over the size limit refuses the whole request with 413, any file
    without a usable name with 422)."""
    if not files:
        raise HTTPException(422, "Please choose at least one file.")
    if len(files) > MAX_FILES:
        raise HTTPException(413, f"Please upload at most {MAX_FILES} files at once.")
    reason = too_large(files)
    if reason:
        raise HTTPException(413, reason)
    reason = bad_name(files)
    if reason:
        raise HTTPException(422, reason)
    settings = request.app.state.settings
    results = []
    for upload in files:
        data = await upload.read()
        results.append(await run_in_threadpool(documents.store_upload, settings, slug, upload.filename or "", data))
    return upload_report(results)


@router.get("/documents", response_model=list[DocumentOut])
def list_documents(slug: str, request: Request, user: User = Depends(api_user),
                   db: Session = Depends(get_db)) -> list[dict]:
    """Every uploaded document with its status, entry count and errors."""
    company = company_for(db, user, slug)
    return documents.list_documents(request.app.state.settings, company.slug)


@router.post("/documents", response_model=UploadReport, max_body_size=MAX_BODY_BYTES,
             responses={413: {"description": "A file is over the size limit; nothing was stored"},
                        422: {"description": "No file could be read; each result says why"}})
async def upload_documents(slug: str, request: Request, files: list[UploadFile] = File(...),
                           user: User = Depends(api_user), db: Session = Depends(get_db)) -> JSONResponse:
    """Upload one or several FAQ documents (PDF, DOCX, XLSX, CSV, Markdown, TXT, HTML, JSON). A file with the
    name of an existing document replaces it."""
    company = company_for(db, user, slug)
    return await handle_upload(request, company.slug, files)


@router.delete("/documents/{name}", status_code=204)
def delete_document(slug: str, name: str, request: Request, user: User = Depends(api_user),
                    db: Session = Depends(get_db)) -> Response:
    company = company_for(db, user, slug)
    try:
        found = documents.remove(request.app.state.settings, company.slug, name)
    except documents.StorageFailed as exc:
        raise HTTPException(503, str(exc)) from None
    if not found:
        raise HTTPException(404, f"There is no document {name!r}.")
    return Response(status_code=204)


@router.post("/ask", response_model=AskOut)
def ask(slug: str, body: AskIn, request: Request, user: User = Depends(api_user), db: Session = Depends(get_db)):
    """Ask a test question: exactly what a caller would hear (answer with source and confidence, or the
    hand-off)."""
    company = company_for(db, user, slug)
    answer = kb.caller_answer(request.app.state.settings, company, body.question, body.language)
    return answer.__dict__


@router.get("/faq-gaps", response_model=list[GapGroupOut])
def faq_gaps(slug: str, user: User = Depends(api_user), db: Session = Depends(get_db)) -> list[dict]:
    """Questions callers asked that nothing answered, grouped by wording, most asked first."""
    company = company_for(db, user, slug)
    return [g.__dict__ for g in repo.faq_gap_groups(db, company)]


@router.post("/faq-entries", response_model=UploadReport)
def add_faq_entry(slug: str, body: FaqEntryIn, request: Request, user: User = Depends(api_user),
                  db: Session = Depends(get_db)) -> JSONResponse:
    """Add an FAQ entry (kept in the document ``added-in-web.json``) and mark the given gaps answered."""
    company = company_for(db, user, slug)
    result = documents.add_manual_entry(request.app.state.settings, company.slug, body.question, body.answer,
                                        body.language)
    if result.ok and body.gap_ids:
        own = {gid for g in repo.faq_gap_groups(db, company, limit=10000) for gid in g.gap_ids}
        repo.resolve_faq_gaps(db, [g for g in body.gap_ids if g in own])
    return upload_report([result])


@router.post("/faq-gaps/label", response_model=GapLabelOut,
             responses={422: {"description": "The knowledge base refused the label (e.g. no such entry); no gap "
                                             "was resolved"}})
def label_faq_gaps(slug: str, body: GapLabelIn, request: Request, user: User = Depends(api_user),
                   db: Session = Depends(get_db)) -> dict:
    """Label unanswered caller questions: filed under an existing entry they become one more way callers ask it;
    with ``entry_question: null`` they teach the knowledge base what its FAQ does not cover. The gaps are resolved.
    Gap ids of other companies, and resolved gaps, are ignored."""
    company = company_for(db, user, slug)
    try:
        return services.label_gaps(db, request.app.state.settings, company, body.gap_ids, body.entry_question)
    except kb.LearnRefused as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/learned", response_model=list[LearnedOut])
def learned_questions(slug: str, request: Request, user: User = Depends(api_user),
                      db: Session = Depends(get_db)) -> list[dict]:
    """Caller questions the knowledge base learned from labelled gaps, newest first."""
    company = company_for(db, user, slug)
    return kb.learned(request.app.state.settings, company.slug)


@router.delete("/learned", status_code=204, responses={404: {"description": "No learned question in these words"},
                                                       422: {"description": "No question given"}})
def forget_learned(slug: str, request: Request, question: str | None = Query(None, max_length=QUESTION_MAX),
                   body: ForgetIn | None = Body(None), user: User = Depends(api_user),
                   db: Session = Depends(get_db)) -> Response:
    """Forget one learned caller question (``?question=`` or a JSON body ``{"question": ...}``); its gap is not
    reopened."""
    company = company_for(db, user, slug)
    text = (body.question if body else question) or ""
    if not text.strip():
        raise HTTPException(422, "Please give the learned question to forget.")
    found = kb.forget(request.app.state.settings, company.slug, text)
    if not found:
        raise HTTPException(404, f"The knowledge base has no learned question {text!r}.")
    return Response(status_code=204)
