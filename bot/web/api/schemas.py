"""Pydantic models of the REST API: what goes in and out, as documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# the company schemas are built from the company field model; re-exported here with the other schemas
from bot.web.api.company_schema import CompanyCreate as CompanyCreate
from bot.web.api.company_schema import CompanyFields as CompanyFields
from bot.web.api.company_schema import CompanyOut as CompanyOut
from bot.web.fields import IDS_MAX, LIST_MAX, PASSWORD_MAX, Answer, Email, Id, Name, Password, Phone, Question, Short


class DocumentOut(BaseModel):
    name: str
    ok: bool
    status: str = Field(..., description="indexed | error")
    entries: int
    size: int | None = Field(..., description="bytes uploaded; None for a document added with `receptionist kb add`")
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
    detail: str | None = Field(None, description="When no file was stored: why, in plain words")
    results: list[UploadOut]


class AskIn(BaseModel):
    question: Question
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
    question: Question = Field(..., min_length=3)
    answer: Answer
    language: Literal["de", "en"] | None = None
    gap_ids: list[Id] = Field(default_factory=list, max_length=IDS_MAX,
                              description="FAQ gaps this entry answers (marked resolved)")


class GapLabelIn(BaseModel):
    gap_ids: list[Id] = Field(..., min_length=1, max_length=IDS_MAX,
                               description="FAQ gaps (one group's gap_ids) asked in these words")
    entry_question: Question | None = Field(..., examples=["Wann haben Sie geöffnet?"],
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
    question: Question


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
    summary: str | None = Field(None, description="Post-call summary in the company's language: what the caller wanted, "
                                "what the bot did, what is left to do")
    priority: Literal["urgent", "normal", "low", "spam"] | None = Field(None, description="None while in progress")
    tags: list[str] = Field(default_factory=list, description="answered, message, partial_message, transferred, "
                            "not_covered, hung_up_during_message, dead_air")
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
    partial: bool = Field(..., description="True: the caller hung up mid-message; name or number may be all there is")
    status: str
    created_at: datetime
    done_at: datetime | None
    summary: str | None = Field(None, description="The call's summary (when the message came from a call)")
    priority: Literal["urgent", "normal", "low", "spam"] | None = None
    called_back_at: datetime | None = Field(..., description="When the caller was called back; null: not yet")
    called_back_by: str | None = Field(..., description="Who called back (the user's name, else e-mail)")


class DoneIn(BaseModel):
    done: bool = True


class CalledBackIn(BaseModel):
    called_back: bool = True


class DeleteCallerIn(BaseModel):
    number: Phone = Field(..., description="The caller's phone number, any notation", examples=["+49 170 1234567"])


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
    email: Email
    password: Password
    role: Literal["admin", "company_user", "secretary"]
    name: Name | None = None
    companies: list[Short] = Field(default_factory=list, max_length=LIST_MAX)


class UserPatch(BaseModel):
    name: Name | None = None
    role: Literal["admin", "company_user", "secretary"] | None = None
    active: bool | None = None
    password: Password | None = None
    companies: list[Short] | None = Field(None, max_length=LIST_MAX)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=PASSWORD_MAX)
    new_password: Password


class ApiKeyIn(BaseModel):
    name: Name = Field(..., min_length=1, examples=["CRM integration"])


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
