"""The one list of a company's settings, with what every layer needs to know about each of them.

Why one list: the store's checks, the REST schemas, the settings form, the ``receptionist company`` options and the
``company.yaml`` reader are all derived from :data:`COMPANY_FIELDS`, so a new setting is one entry here (plus its
database column and migration) instead of an edit in a dozen files. It lives in the brain layer because the store
needs it too and may only import downwards; it is plain data and pure functions, no I/O.

The ``kind`` says how a value is checked and shown:

    line      one line of text (max_len at the web edge)         text      multi-line text
    language  "de" or "en"                                       languages  a list of those
    phone     a transfer number                                  phones     the numbers that reach the company
    timezone  an IANA name   bundesland  a German state code     hours     office hours (compact text)
    email     an e-mail address                                  url       an http(s) URL
    secret    a write-only line (never shown, never exported)    flag      true / false
    int       a whole number in [ge, le]                         float     a number in [ge, le]
    time      a local clock time "HH:MM" (empty: off)
    voice     the id of a voice of ``language`` (bot.voices); which voices are installed is checked by the store
              and offered by the form, this list stays declarative
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CompanyField:
    """One company setting. ``name`` is the store column, the API key and the form field name at once."""

    name: str
    kind: str
    what: str  # how messages name it ("German greeting")
    max_len: int | None = None  # longest text the web edge accepts (the store may allow more, never less)
    store_max: int | None = None  # longest text the store keeps (column size); None = max_len
    ge: float | None = None  # bounds of a number
    le: float | None = None
    required: bool = False  # may not be cleared (the company name)
    default: Any = None  # what a new company starts with (also the value the form shows for a new company)
    yaml: str | None = None  # key in company.yaml ("greeting.de": nested); None = not in the file
    cli: str | None = None  # `receptionist company add/set` option without "--"; None = no option
    cli_help: str = ""
    label: str | None = None  # i18n key of the form label (bot/web/i18n); None = not on the settings form
    help: str | None = None  # i18n key of the small help text under the form field
    placeholder: str | None = None  # i18n key, or the literal example when it is no key
    section: str = "basics"  # form fieldset (its legend is the i18n key)
    row: str | None = None  # fields sharing a row name stand side by side on the form
    company_editable: bool = True  # a company user may change it (admins may change everything)
    description: str | None = None  # for the OpenAPI schema
    example: Any = None  # for the OpenAPI schema
    language: str | None = None  # the language of a voice choice (kind "voice")

    @property
    def output(self) -> bool:
        """Shown in API responses, ``company show --json`` and exported to YAML (secrets are not)."""
        return self.kind != "secret"

    @property
    def setting(self) -> bool:
        """Stored as a column of the company row (phone numbers have a table of their own)."""
        return self.kind != "phones"


COMPANY_FIELDS: tuple[CompanyField, ...] = (
    CompanyField("name", "line", "company name", 200, required=True, yaml="name", cli="name",
                 cli_help='Company name as the bot speaks it ("Praxis Dr. Berger").', label="company_name",
                 example="Praxis Dr. Berger"),
    CompanyField("greeting_de", "text", "German greeting", 1000, yaml="greeting.de", cli="greeting-de",
                 cli_help="German greeting; empty = the standard one (always discloses the AI).",
                 label="greeting_de", placeholder="greeting_default"),
    CompanyField("greeting_en", "text", "English greeting", 1000, yaml="greeting.en", cli="greeting-en",
                 cli_help="English greeting; empty = the standard one.", label="greeting_en",
                 placeholder="greeting_default"),
    CompanyField("default_language", "language", "default language", default="de", yaml="default_language",
                 cli="language", cli_help="Default language of the greeting: de or en.", label="default_language",
                 row="languages"),
    CompanyField("languages", "languages", "languages", default=("de", "en"), yaml="languages", cli="languages",
                 cli_help="Languages the bot speaks with callers, comma-separated (de,en).", label="languages",
                 row="languages", example=["de", "en"]),
    CompanyField("voice_de", "voice", "German voice", 50, yaml="voice_de", cli="voice-de",
                 cli_help="German voice id among the installed ones (pico, mbrola-de6, espeak-ng, …); "
                          "empty = deployment default (RECEPTIONIST_VOICE_DE).",
                 label="voice_de", placeholder="voice_default", row="voice", language="de",
                 description="Voice id (bot.voices) among those installed; empty = deployment default"),
    CompanyField("voice_en", "voice", "English voice", 50, yaml="voice_en", cli="voice-en",
                 cli_help="English voice id among the installed ones; empty = deployment default.",
                 label="voice_en", placeholder="voice_default", row="voice", language="en",
                 description="Voice id (bot.voices) among those installed; empty = deployment default"),
    CompanyField("speaking_rate", "float", "speaking rate", ge=0.5, le=2.0, default=1.0, yaml="speaking_rate",
                 cli="speaking-rate", cli_help="Speech speed, 0.5–2.0 (1.0 = natural).", label="speaking_rate",
                 row="voice"),
    CompanyField("timezone", "timezone", "time zone", 100, default="Europe/Berlin", yaml="timezone", cli="timezone",
                 cli_help="IANA time zone of the office hours (Europe/Berlin).", label="timezone",
                 section="hours_and_reach", row="place", example="Europe/Berlin"),
    CompanyField("office_hours", "hours", "office hours", 500, default="mon-fri 09:00-17:00", yaml="office_hours",
                 cli="office-hours",
                 cli_help='Opening hours, e.g. "mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00".',
                 label="office_hours", help="office_hours_help", section="hours_and_reach",
                 placeholder="mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00",
                 example="mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"),
    CompanyField("bundesland", "bundesland", "Bundesland", 100, yaml="bundesland", cli="bundesland",
                 cli_help="German state code for public holidays (BY, NW, BE, …); empty = nationwide only.",
                 label="bundesland", section="hours_and_reach", row="place", example="BY",
                 description="German state code for public holidays"),
    CompanyField("phone_numbers", "phones", "phone numbers", 64, yaml="phone_numbers", label="phone_numbers",
                 help="phone_numbers_help", section="hours_and_reach",
                 description="Numbers that reach the company (any notation)"),
    CompanyField("secretary_number", "phone", "transfer number", 64, store_max=20, yaml="secretary_number",
                 cli="secretary", cli_help="Phone number live transfers go to (any format; stored as E.164).",
                 label="secretary_number", placeholder="+49 30 1234567", section="hours_and_reach", row="secretary"),
    CompanyField("secretary_name", "line", "secretary name", 200, yaml="secretary_name", cli="secretary-name",
                 cli_help='How the bot names the secretary ("Frau Berger").', label="secretary_name",
                 section="hours_and_reach", row="secretary"),
    CompanyField("warm_transfer", "flag", "warm transfer", default=False, yaml="warm_transfer", cli="warm-transfer",
                 cli_help="Announce each caller to the secretary before connecting; she accepts with 1, declines "
                          "with 2 (Twilio).", label="warm_transfer", help="warm_transfer_help",
                 section="hours_and_reach",
                 description="Brief the secretary before connecting (accept 1 / decline 2); off: cold transfer"),
    CompanyField("email", "email", "e-mail address", 254, yaml="email", cli="email",
                 cli_help="Address that receives every new message.", label="email", help="email_help",
                 placeholder="praxis@example.com", section="notifications",
                 description="Where new messages are e-mailed"),
    CompanyField("webhook_url", "url", "webhook URL", 2000, yaml="webhook_url", cli="webhook-url",
                 cli_help="URL that receives every new message as signed JSON.", label="webhook_url",
                 placeholder="https://…", section="notifications"),
    CompanyField("webhook_secret", "secret", "webhook secret", 200, cli="webhook-secret",
                 cli_help="HMAC key for the webhook signature.", label="webhook_secret",
                 help="webhook_secret_help", section="notifications",
                 description="HMAC key for X-Receptionist-Signature (write-only)"),
    CompanyField("digest_time", "time", "digest time", 5, yaml="digest_time", cli="digest-time",
                 cli_help="Local time (HH:MM) of the daily e-mail digest of all calls; empty = no digest.",
                 label="digest_time", help="digest_time_help", placeholder="18:00", section="notifications",
                 description="Local time (HH:MM) of the daily digest e-mail to the company address; null = none"),
    CompanyField("retention_days", "int", "retention", ge=0, le=3650, default=30, yaml="retention_days",
                 cli="retention-days", cli_help="Days until transcripts, messages and recordings are deleted; 0 = no "
                                                "transcript or recording kept once the call has ended.",
                 label="retention_days", help="retention_help", section="privacy", row="privacy"),
    CompanyField("recording_enabled", "flag", "recording", default=False, yaml="recording_enabled", cli="recording",
                 cli_help="Keep call audio for the retention period (off by default, DSGVO).",
                 label="recording_enabled", help="recording_help", section="privacy", row="privacy",
                 description="Audio recording (off by default, DSGVO)"),
    CompanyField("recording_notice_de", "text", "German recording notice", 500, yaml="recording_notice.de",
                 cli="recording-notice-de", cli_help="Spoken after the greeting when recording is on; empty = the "
                 "standard notice (it also says how to object).", label="recording_notice_de",
                 placeholder="recording_notice_default", section="privacy"),
    CompanyField("recording_notice_en", "text", "English recording notice", 500, yaml="recording_notice.en",
                 cli="recording-notice-en", cli_help="English recording notice; empty = the standard one.",
                 label="recording_notice_en", placeholder="recording_notice_default", section="privacy"),
    CompanyField("english_only", "flag", "English only", default=False, yaml="english_only", cli="english-only",
                 cli_help="Only English callers (uses the faster English recogniser).", label="english_only",
                 section="privacy", row="privacy"),
)
FORM_SECTIONS = ("basics", "hours_and_reach", "notifications", "privacy")  # fieldsets of the form, in order


def field_named(name: str, fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> CompanyField:
    """The field ``name``; KeyError names the known ones."""
    for f in fields:
        if f.name == name:
            return f
    raise KeyError(f"no company field {name!r}; known: {', '.join(f.name for f in fields)}")


def settings(fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> tuple[CompanyField, ...]:
    """The fields stored on the company row (all but the phone numbers)."""
    return tuple(f for f in fields if f.setting)


def defaults(fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    """What a new company starts with (lists as lists, for the store's JSON column and the form)."""
    return {f.name: list(f.default) if isinstance(f.default, tuple) else f.default
            for f in fields if f.default is not None}


class CompanyFileError(ValueError):
    """A company.yaml that cannot be read as a company; the message names the file and the key."""


@dataclass(frozen=True)
class CompanyFile:
    """A company.yaml as the store's fields: unchecked values (the store checks them), keyed by field name."""

    slug: str
    name: str | None
    values: dict[str, Any]  # settings given in the file (phone numbers not among them)
    phone_numbers: tuple[str, ...] = ()


def _yaml_keys(fields: tuple[CompanyField, ...]) -> dict[str, CompanyField]:
    return {f.yaml: f for f in fields if f.yaml}


def from_yaml(data: Any, source: str, fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> CompanyFile:
    """The one reading of a company.yaml mapping (demo companies, seeding, ``call --profile``, the resolver).

    Structure only: unknown keys, a non-mapping greeting or a missing slug are refused here with the file's name;
    the values themselves are checked by the store's validators, with the same words as the CLI and the web form.
    """
    if not isinstance(data, dict) or not data.get("slug"):
        raise CompanyFileError(f"{source}: expected a mapping with at least 'slug' and 'name'")
    by_key = _yaml_keys(fields)
    nested = {key.split(".", 1)[0] for key in by_key if "." in key}
    known = {"slug"} | {key for key in by_key if "." not in key} | nested
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise CompanyFileError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key, f in by_key.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            group = data.get(outer) or {}
            if not isinstance(group, dict):
                inners = [k.split(".", 1)[1] for k in by_key if k.startswith(outer + ".")]
                raise CompanyFileError(f"{source}: '{outer}' must be a mapping of {', '.join(inners)}, "
                                       f"e.g. {inners[0]}: …")
            value = group.get(inner)
        else:
            value = data.get(key)
        if value is not None and value != "":
            values[f.name] = value
    phones = values.pop("phone_numbers", None) or []
    if isinstance(phones, str):
        phones = [phones]
    if not isinstance(phones, list):
        raise CompanyFileError(f"{source}: 'phone_numbers' must be a list of numbers")
    name = values.pop("name", None)
    return CompanyFile(str(data["slug"]), None if name is None else str(name), values, tuple(map(str, phones)))


def to_yaml(slug: str, values: dict[str, Any], fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    """A company's settings (store field names, e.g. ``company_to_dict``) as a company.yaml mapping; the inverse
    of :func:`from_yaml`. Secrets and empty values are left out."""
    data: dict[str, Any] = {"slug": slug}
    for key, f in _yaml_keys(fields).items():
        value = values.get(f.name)
        if not f.output or value is None or value == "" or value == []:
            continue
        if "." in key:
            outer, inner = key.split(".", 1)
            data.setdefault(outer, {})[inner] = value
        else:
            data[key] = list(value) if isinstance(value, tuple) else value
    return data


def with_field(extra: CompanyField, fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> tuple[CompanyField, ...]:
    """``fields`` plus ``extra`` (replacing a field of the same name): how tests try out a new setting."""
    return tuple(f for f in fields if f.name != extra.name) + (extra,)
