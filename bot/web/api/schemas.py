"""Pydantic models of the REST API: what goes in and out, as documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class CompanyFields(BaseModel):
    """Company settings; on PATCH only the fields sent are changed."""

    name: str | None = Field(None, examples=["Praxis Dr. Berger"])
    greeting_de: str | None = None
    greeting_en: str | None = None
    default_language: Literal["de", "en"] | None = None
    languages: list[Literal["de", "en"]] | None = Field(None, examples=[["de", "en"]])
    voice_de: str | None = None
    voice_en: str | None = None
    speaking_rate: float | None = Field(None, ge=0.5, le=2.0)
    timezone: str | None = Field(None, examples=["Europe/Berlin"])
    office_hours: str | None = Field(None, examples=["mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"])
    bundesland: str | None = Field(None, examples=["BY"], description="German state code for public holidays")
    phone_numbers: list[str] | None = Field(None, description="Numbers that reach the company (any notation)")
    secretary_number: str | None = None
    secretary_name: str | None = None
    email: str | None = Field(None, description="Where new messages are e-mailed")
    webhook_url: str | None = None
    webhook_secret: str | None = Field(None, description="HMAC key for X-Receptionist-Signature (write-only)")
    retention_days: int | None = Field(None, ge=1, le=3650)
    recording_enabled: bool | None = Field(None, description="Audio recording (off by default, DSGVO)")
    english_only: bool | None = None


class CompanyCreate(CompanyFields):
    slug: str = Field(..., examples=["praxis-berger"], description="Lower-case letters, digits, hyphens")


class CompanyOut(BaseModel):
    id: int
    slug: str
    name: str
    greeting_de: str | None
    greeting_en: str | None
    default_language: str
    languages: list[str]
    voice_de: str | None
    voice_en: str | None
    speaking_rate: float
    timezone: str
    office_hours: str
    bundesland: str | None
    phone_numbers: list[str]
    secretary_number: str | None
    secretary_name: str | None
    email: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    retention_days: int
    recording_enabled: bool
    english_only: bool
    created_at: str | None
    updated_at: str | None


class DocumentOut(BaseModel):
    name: str
    ok: bool
    status: str = Field(..., description="indexed | parsed (knowledge base unavailable) | error")
    entries: int
    size: int
    format: str | None
    error: str | None
    warnings: list[str]
    uploaded_at: float


class UploadOut(BaseModel):
    name: str
    ok: bool
    status: str
    entries: int
    replaced: bool
    error: str | None
    warnings: list[str]


class UploadReport(BaseModel):
    results: list[UploadOut]


class AskIn(BaseModel):
    question: str = Field(..., min_length=1, max_length=1000)
    language: Literal["de", "en"] | None = None


class AskOut(BaseModel):
    question: str
    language: str
    say: str = Field(..., description="What the caller hears")
    answered: bool = Field(..., description="False: the caller is offered a transfer or a message")
    confidence: float
    source: str | None
    location: str | None
    entry_question: str | None
    intent: str
    phrased_by: str
    alternatives: list[dict]


class GapGroupOut(BaseModel):
    question: str
    count: int
    gap_ids: list[int]
    languages: list[str]
    last_asked: datetime


class FaqEntryIn(BaseModel):
    question: str = Field(..., min_length=3, max_length=1000)
    answer: str = Field(..., min_length=1, max_length=5000)
    language: Literal["de", "en"] | None = None
    gap_ids: list[int] = Field(default_factory=list, description="FAQ gaps this entry answers (marked resolved)")


class GapLabelIn(BaseModel):
    gap_ids: list[int] = Field(..., min_length=1, max_length=10000,
                               description="FAQ gaps (one group's gap_ids) asked in these words")
    entry_question: str | None = Field(..., max_length=1000, examples=["Wann haben Sie geöffnet?"],
                                       description="The entry they belonged to, exactly as the FAQ words its "
                                                   "question; null: not an FAQ topic, the hand-off was right")


class GapLabelOut(BaseModel):
    learned: int = Field(..., description="Distinct caller questions the knowledge base now knows with this label")
    resolved: int = Field(..., description="Gaps closed")


class LearnedOut(BaseModel):
    question: str
    entry_question: str | None = Field(..., description="null: labelled not covered by the FAQ")
    language: str | None


class ForgetIn(BaseModel):
    question: str = Field(..., min_length=1, max_length=1000)


class TurnOut(BaseModel):
    seq: int
    speaker: str
    text: str
    language: str | None
    intent: str | None
    entry_question: str | None
    offset_ms: int
    latency: dict[str, float]


class CallOut(BaseModel):
    id: int
    company: str
    channel: str
    caller_number: str | None
    language: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    outcome: str | None
    transferred_to: str | None
    summary: str | None
    has_recording: bool
    message_ids: list[int]


class CallDetail(CallOut):
    turns: list[TurnOut]
    latency_ms: dict[str, float] = Field(..., description="Median per stage over the call's bot turns")


class CallPage(BaseModel):
    total: int
    items: list[CallOut]


class MessageOut(BaseModel):
    id: int
    company: str
    company_name: str
    call_id: int | None
    caller_name: str
    caller_number: str
    concern: str
    urgency: str
    language: str
    status: str
    created_at: datetime
    done_at: datetime | None


class DoneIn(BaseModel):
    done: bool = True


class DeleteCallerIn(BaseModel):
    number: str = Field(..., description="The caller's phone number, any notation", examples=["+49 170 1234567"])


class DeletionOut(BaseModel):
    calls: int
    turns: int
    messages: int
    notifications: int
    faq_gaps: int
    recordings: int
    spooled: int = 0  # of messages: erased from the local spool before they reached the database
    errors: list[str]


class UserOut(BaseModel):
    id: int
    email: str
    name: str | None
    role: str
    active: bool
    companies: list[str]


class UserCreate(BaseModel):
    email: str
    password: str = Field(..., min_length=8)
    role: Literal["admin", "company_user", "secretary"]
    name: str | None = None
    companies: list[str] = Field(default_factory=list)


class UserPatch(BaseModel):
    name: str | None = None
    role: Literal["admin", "company_user", "secretary"] | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=8)
    companies: list[str] | None = None


class ApiKeyIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=200, examples=["CRM integration"])


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    prefix: str
    key: str = Field(..., description="Shown once; only its hash is stored")


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
