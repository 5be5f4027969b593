"""Model provisioning: pinned hashes, the joined Whisper model, clear errors, never a download."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import models
from bot.models import ModelError, PinnedFile, verify_file
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_corrupted_copy_is_rejected(tmp_path: Path) -> None:
    original = models.package_file(models.PIPER_JOE_EN[1])  # the small .onnx.json
    copy = tmp_path / "voice.onnx.json"
    shutil.copyfile(original, copy)
    verify_file(copy, models.PIPER_JOE_EN[1].sha256, fix="x")  # intact copy passes
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or altered"):
        verify_file(copy, models.PIPER_JOE_EN[1].sha256, fix="reinstall")


def test_truncated_file_is_rejected_even_with_a_stale_stamp(settings: Settings, tmp_path: Path) -> None:
    src = models.package_file(models.WHISPER_TINY_EN[1])
    copy = tmp_path / "config.json"
    shutil.copyfile(src, copy)
    verify_file(copy, models.WHISPER_TINY_EN[1].sha256, settings=settings, fix="x")  # writes a stamp
    copy.write_bytes(copy.read_bytes()[:-10])
    with pytest.raises(ModelError, match="corrupt or altered"):
        verify_file(copy, models.WHISPER_TINY_EN[1].sha256, settings=settings, fix="x")


def test_missing_package_names_the_fix() -> None:
    ghost = PinnedFile("no_such_model_pkg", "data/x.bin", "0" * 64, "no-such-model-pkg==1.0")
    with pytest.raises(ModelError, match=r"pip install no-such-model-pkg==1.0"):
        models.verified_package_file(ghost)


def test_whisper_base_is_joined_and_verified(settings: Settings) -> None:
    target = models.whisper_base_dir(settings)
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == sorted(models.WHISPER_REQUIRED)
    assert models.sha256_file(target / "model.bin") == models.WHISPER_BASE_MODEL_SHA256
    assert not list(target.glob("*.tmp"))
    # an altered joined model is refused with the fix named, not silently re-used
    with (target / "model.bin").open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ModelError, match="models check"):
        models.whisper_base_dir(settings)


def test_user_model_dir_must_be_complete(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "mymodel").mkdir()
    (tmp_path / "mymodel" / "model.bin").write_bytes(b"x")
    s = settings.model_copy(update={"whisper_model_dir": tmp_path / "mymodel"})
    with pytest.raises(ModelError, match="RECEPTIONIST_WHISPER_MODEL_DIR.*config.json"):
        models.whisper_base_dir(s)


def test_german_voice_defaults_to_espeak_and_accepts_piper_file(settings: Settings, tmp_path: Path) -> None:
    assert models.piper_voice(settings, "de") is None
    assert models.piper_voice(settings, "en").name == "en_US-joe-medium.onnx"
    onnx = tmp_path / "de_DE-test.onnx"
    onnx.write_bytes(b"onnx")
    s = settings.model_copy(update={"piper_voice_de": onnx})
    with pytest.raises(ModelError, match=r"\.onnx\.json is missing"):
        models.piper_voice(s, "de")
    Path(str(onnx) + ".json").write_text("{}")
    assert models.piper_voice(s, "de") == onnx.resolve()


def _cli(args: list[str], env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)


@pytest.mark.slow
def test_models_check_cli_reports_every_model_and_fails_on_problems(tmp_path: Path) -> None:
    env = {"RECEPTIONIST_DATA_DIR": str(tmp_path / "d"), "PYTHONPATH": str(REPO)}
    ok = _cli(["models", "check"], env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for name in ("faster-whisper-base", "faster-whisper-tiny.en", "tts-en", "tts-de", "use-multilingual-v3",
                 "silero-vad", "smart-turn-v3.2"):
        assert name in ok.stdout
    assert "all 7 models verified" in ok.stdout
    joined = tmp_path / "d" / "models" / "faster-whisper-base" / "model.bin"
    with joined.open("r+b") as fh:
        fh.seek(5000)
        fh.write(b"garbage")
    bad = _cli(["models", "check"], env, tmp_path)
    assert bad.returncode == 1
    assert "BAD faster-whisper-base" in bad.stdout and "corrupt or altered" in bad.stdout
    missing_voice = _cli(["models", "check"], {**env, "RECEPTIONIST_PIPER_VOICE_DE": str(tmp_path / "nope.onnx")},
                         tmp_path)
    assert missing_voice.returncode == 1 and "RECEPTIONIST_PIPER_VOICE_DE" in missing_voice.stdout
