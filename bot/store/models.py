"""SQLAlchemy 2.0 models: companies, users, calls with their transcripts, hand-off messages, the outbox, FAQ gaps.

One schema serves SQLite (default, under the data dir) and PostgreSQL. Kinds and statuses are plain strings guarded
by CHECK constraints rather than native enums, so that adding a value is a one-line migration on both databases.
Every timestamp is stored as UTC and comes back timezone-aware (:class:`UTCDateTime`), because calls are compared
against company-local office hours and a naive datetime would silently shift by the server's offset.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, DateTime, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, TypeDecorator, UniqueConstraint, false, true)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names: Alembic needs them to alter or drop constraints later (SQLite batch mode included).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "company_user", "secretary")
CHANNELS = ("twilio", "browser", "cli", "sip")
OUTCOMES = ("answered", "message", "transferred", "abandoned")
SPEAKERS = ("caller", "bot")
URGENCIES = ("normal", "urgent")
MESSAGE_STATUSES = ("new", "done")
STREAM_STATES = ("streaming", "transferring", "ended")
OUTBOX_KINDS = ("email", "webhook")
OUTBOX_STATUSES = ("pending", "sent")
LANGUAGES = ("de", "en")
# The latency keys the pipeline reports per turn (milliseconds); others are allowed but these are the standard ones.
LATENCY_KEYS = ("stt_ms", "brain_ms", "tts_ms", "voice_to_voice_ms")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone of its own).

    Naive datetimes are refused on the way in: guessing their zone is how call times end up an hour off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass a timezone-aware datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Company users (usually one company) and secretaries (their assigned companies) are linked the same way;
# the role decides what the link means. Admins need no links: they see every company.
user_companies = Table(
    "user_companies",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("company_id", ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True),
)


class Company(Base):
    """A client company the receptionist answers for, with everything a call needs to know about it."""

    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint(_in("default_language", LANGUAGES), name="default_language"),
        CheckConstraint("retention_days >= 0", name="retention_days"),  # 0: no transcript kept after the call
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    greeting_de: Mapped[str | None] = mapped_column(Text)  # None: the standard greeting from prompts/de
    greeting_en: Mapped[str | None] = mapped_column(Text)
    default_language: Mapped[str] = mapped_column(String(2), default="de")
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["de", "en"])
    voice_de: Mapped[str | None] = mapped_column(String(500))  # Piper voice (.onnx path); None: deployment default
    voice_en: Mapped[str | None] = mapped_column(String(500))
    speaking_rate: Mapped[float] = mapped_column(Float, default=1.0)  # 1.0 = the voice's natural pace
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    office_hours: Mapped[str] = mapped_column(Text, default="")  # compact form, bot.brain.profile.parse_office_hours
    bundesland: Mapped[str | None] = mapped_column(String(2))  # None: nationwide holidays only
    secretary_number: Mapped[str | None] = mapped_column(String(20))  # E.164
    secretary_name: Mapped[str | None] = mapped_column(String(200))
    warm_transfer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email: Mapped[str | None] = mapped_column(String(320))  # where new messages are e-mailed
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))  # HMAC key for the webhook signature
    digest_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" local; None: no daily digest
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last digest's end of period
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_notice_de: Mapped[str | None] = mapped_column(Text)  # None: the standard notice from prompts/de
    recording_notice_en: Mapped[str | None] = mapped_column(Text)
    english_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    phones: Mapped[list[CompanyPhone]] = relationship(
        back_populates="company", cascade="all, delete-orphan", order_by="CompanyPhone.number")
    users: Mapped[list[User]] = relationship(secondary=user_companies, back_populates="companies")

    @property
    def phone_numbers(self) -> list[str]:
        return [p.number for p in self.phones]

    def __repr__(self) -> str:
        return f"Company(slug={self.slug!r})"


class CompanyPhone(Base):
    """A phone number (E.164) that reaches one company; inbound calls are routed by it."""

    __tablename__ = "company_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)

    company: Mapped[Company] = relationship(back_populates="phones")


class User(Base):
    """A person who logs in to the web app: agency admin, company user or secretary."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(500))  # argon2id, see bot.store.passwords
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every session cookie carries the generation it was issued under; a password change, deactivation or
    # "log out everywhere" bumps it, so every earlier cookie of this user stops working at once (cookies are
    # stateless and cannot be recalled otherwise). A single logout revokes just its session (RevokedSession).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    companies: Mapped[list[Company]] = relationship(secondary=user_companies, back_populates="users",
                                                    order_by="Company.slug")
    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"User(id={self.id}, role={self.role!r})"


class ApiKey(Base):
    """An API key for the REST API. Only its SHA-256 is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a key in lists
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_keys")


class Call(Base):
    """One call, from connect to hang-up. ``outcome`` stays None while the call is in progress."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', OUTCOMES)}", name="outcome"),
        Index("ix_calls_company_started", "company_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)  # Twilio CallSid or a browser session id
    caller_number: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164; None when withheld
    language: Mapped[str | None] = mapped_column(String(2))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(12))
    transferred_to: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text)  # bot.brain.call_summary, in the company's language
    priority: Mapped[str | None] = mapped_column(String(6), index=True)  # "urgent" / "normal" / "low" / "spam"
    tags: Mapped[list[str] | None] = mapped_column(JSON)  # bot.brain.call_summary.TAGS
    recording_path: Mapped[str | None] = mapped_column(String(1000))  # only when the company enabled recording
    # the caller said "Ich möchte nicht aufgezeichnet werden": no recording, transcript deleted when the call ends
    recording_objected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # personal data removed by the retention job

    company: Mapped[Company] = relationship()
    turns: Mapped[list[CallTurn]] = relationship(back_populates="call", cascade="all, delete-orphan",
                                                 order_by="CallTurn.seq", passive_deletes=True)
    messages: Mapped[list[Message]] = relationship(back_populates="call", passive_deletes=True)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class CallTurn(Base):
    """One utterance in a call's transcript, with what the brain understood and how long each stage took."""

    __tablename__ = "call_turns"
    __table_args__ = (
        UniqueConstraint("call_id", "seq", name="uq_call_turns_call_seq"),
        CheckConstraint(_in("speaker", SPEAKERS), name="speaker"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 0, 1, 2 … in order of speech
    speaker: Mapped[str] = mapped_column(String(6))
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(2))
    intent: Mapped[str | None] = mapped_column(String(40))
    entry_id: Mapped[str | None] = mapped_column(String(200))  # knowledge-base entry answered from
    entry_question: Mapped[str | None] = mapped_column(Text)
    offset_ms: Mapped[int] = mapped_column(Integer, default=0)  # start of the utterance, from the call's start
    latency: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # LATENCY_KEYS, milliseconds

    call: Mapped[Call] = relationship(back_populates="turns")


class Message(Base):
    """A hand-off message for the secretary: who called, how to call back, what about, how urgent."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        Index("ix_messages_company_status", "company_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    caller_name: Mapped[str] = mapped_column(String(200))
    caller_number: Mapped[str] = mapped_column(String(20), index=True)  # callback number, E.164
    concern: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(6), default="normal")
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(4), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Id of the spool file the message came from (bot.store.spool): a retried move can never store it twice.
    spool_id: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)
    # False: a partial message (the caller hung up mid-message; saved with the name or number heard so far).
    complete: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The callback list: when and by whom (user's name, else e-mail; text, so it outlives the account) the caller
    # was called back. Calling back settles the message, so it also marks it done (bot.store.messages).
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_back_by: Mapped[str | None] = mapped_column(String(320))

    company: Mapped[Company] = relationship()
    call: Mapped[Call | None] = relationship(back_populates="messages")
    outbox: Mapped[list[Outbox]] = relationship(back_populates="message", cascade="all, delete-orphan",
                                                passive_deletes=True)


class Outbox(Base):
    """A notification (e-mail or webhook) to deliver, written in the same transaction as its message.

    A sender claims due rows, delivers, and marks them sent, or failed with a later ``next_attempt_at``
    (backoff); a row is never dropped for a receiver being down.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[Message | None] = relationship(back_populates="outbox")


class FaqGap(Base):
    """A caller question the knowledge base could not answer: material for the company's next FAQ entry."""

    __tablename__ = "faq_gaps"
    __table_args__ = (Index("ix_faq_gaps_company_created", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    question: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an entry was added for it


class StreamClaim(Base):
    """Which Twilio call (CallSid) has had its media stream started: one row per call, claimed atomically.

    A stream token is only honoured while this row allows it (bot.store.stream_claims), so a captured or duplicated
    ``start`` cannot open a second bot session for the call, in any worker process sharing this database.
    """

    __tablename__ = "stream_claims"
    __table_args__ = (CheckConstraint(_in("state", STREAM_STATES), name="state"),)

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(12), default="streaming")
    streams: Mapped[int] = mapped_column(Integer, default=1)  # streams run for the call (a failed transfer adds one)
    # warm transfer: what the secretary pressed after the briefing ("accepted" / "declined"); reset per transfer
    screening: Mapped[str | None] = mapped_column(String(8))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LoginFailure(Base):
    """One failed login, kept for the throttle window: ``key`` is ``account:<e-mail>`` or ``ip:<address>``.

    In the database rather than in memory so that every worker process behind a load balancer sees the same count
    (an attacker spreading guesses over workers gains nothing) and a restart does not reset it.
    """

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RevokedSession(Base):
    """A session that was logged out: its cookie is refused until it would have expired anyway, then the row goes.

    Only logged-out sessions are listed (not every live one), so the table stays as small as the logouts of a week.
    """

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
