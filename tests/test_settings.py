from pathlib import Path

from bot.settings import Settings


def test_env_prefix_and_defaults(settings: Settings, monkeypatch, tmp_path: Path) -> None:
    assert settings.resolved_data_dir == (tmp_path / "data").resolve()
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'data').resolve() / 'receptionist.db'}"
    assert settings.chroma_host is None and not settings.llm_enabled
    monkeypatch.setenv("RECEPTIONIST_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("RECEPTIONIST_CHROMA_PORT", "8123")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings(_env_file=None)
    assert (s.chroma_host, s.chroma_port) == ("127.0.0.1", 8123)
    assert s.llm_enabled and s.openai_base_url == "http://127.0.0.1:9/v1"


def test_dotenv_file_is_read(settings: Settings, monkeypatch, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("RECEPTIONIST_PORT=8111\nRECEPTIONIST_LLM_MODEL=smollm2\n", encoding="utf-8")
    s = Settings(_env_file=str(env))
    assert s.port == 8111 and s.llm_model == "smollm2"
