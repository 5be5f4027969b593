"""Which German voice callers understand: round-trip WER, real-time factor and first-audio time per voice.

Every installed German voice (bot.voices) speaks the German demo company's greeting and its first FAQ answers, as
the product speaks them (``for_speech``, sentence by sentence); the product's own recogniser (faster-whisper-base,
``WhisperEngine``) transcribes the audio back, optionally through the telephone band (8 kHz). espeak-ng's formant
voice is the baseline, measured in the same run.

    python -m evals.tts_voices --json reports/tts_voices.json [--answers 20] [--phone]

Per voice: ``wer`` (normalised both sides: numbers as words, punctuation dropped, see :func:`normalise`),
``rtf_median``/``rtf_p95`` (synthesis seconds per audio second, per sentence), ``first_audio_ms_median``/``_p95``
(synthesis time of each text's first sentence: what a caller waits for before the voice starts, uncached).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import jiwer
import numpy as np
import yaml
from num2words import num2words

from bot import voices
from bot.brain.speech import for_speech
from bot.pipeline import registry
from bot.pipeline.tts import Audio, get_synth, split_sentences
from bot.settings import Settings
from knowledge.ingest import parse_file

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo" / "praxis-berger"
_WORD_FIXES = {"zwo": "zwei", "dr": "doktor", "ät": "at", "einhundert": "hundert",
               "eintausend": "tausend", "eins": "ein"}


def _say_number(match: re.Match[str]) -> str:
    digits = match[0]
    if digits.startswith("0") or len(digits) >= 5:  # phone numbers, postcodes: digit by digit
        return " ".join(num2words(int(d), lang="de") for d in digits)
    return num2words(int(digits), lang="de")


def normalise(text: str) -> str:
    """One spelling for what the voice said and what the recogniser wrote ("12:30 Uhr" = "zwölf Uhr dreißig").

    The recogniser writes digits, "€", "%" and e-mail signs where the reference has words, and the other way round;
    both sides go through this, so WER counts misheard words, not formatting.
    """
    text = text.lower().replace("%", " prozent ").replace("@", " at ").replace("binde strich", "bindestrich")
    text = re.sub(r"(\d+),(\d{2})\s*(?:€|euro)", r"\1 euro \2", text)  # "12,50 €" = "12 Euro 50"
    text = re.sub(r"€\s*(\d+)", r"\1 euro", text).replace("€", " euro ")
    text = re.sub(r"(\d)[.,](\d{3})\b", r"\1\2", text)
    text = re.sub(r"(\d+)[:.](\d{2})\b(?:\s*uhr\b)?", r"\1 uhr \2", text)
    text = re.sub(r"(?<=[^\W\d])\.(?=[^\W\d])", " punkt ", text)  # "berger.de" = "berger Punkt de"
    text = re.sub(r"\b(\d{1,2})\.\s", r"\1 ", text)
    text = re.sub(r"(\d+),(\d+)", r"\1 komma \2", text)
    text = re.sub(r"(?<!\d)0\d*(?: \d+)+", lambda m: m[0].replace(" ", ""), text)  # "030 555" is one number
    text = re.sub(r"\d+", _say_number, text)
    text = re.sub(r"(?<=[^\W\d])-(?=[^\W\d])", " bindestrich ", text)  # "praxis-berger" as said
    text = text.replace("-", " ")
    text = re.sub(r"[^\w\s]", " ", text)
    words = [_WORD_FIXES.get(w, w) for w in text.split()]
    text = " ".join(w for w in words if w)
    return re.sub(r"\b(\w) (\w)\b(?: (\w)\b)?", lambda m: "".join(g for g in m.groups() if g), text)  # "d e" = "de"


def demo_texts(answers: int) -> list[str]:
    """The German demo company's greeting and its first ``answers`` FAQ answers, as the product speaks them."""
    company = yaml.safe_load((DEMO / "company.yaml").read_text(encoding="utf-8"))
    documents = sorted(p for p in DEMO.iterdir() if p.is_file() and p.name != "company.yaml")
    entries = [e for path in documents for e in parse_file(path).entries]  # FAQ.md, the PDF, the sheet, the docx
    texts = [company["greeting"]["de"]] + [for_speech(e.answer, "de") for e in entries[:answers]]
    return [t for t in texts if t.strip()]


def to_16k(audio: Audio, phone: bool) -> np.ndarray:
    """Float32 16 kHz mono for the recogniser; ``phone`` passes it through 8 kHz first, as a phone line does."""
    pcm = np.frombuffer(audio.pcm, dtype=np.int16).astype(np.float32) / 32768.0

    def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
        if src == dst or len(x) == 0:
            return x
        n = int(len(x) * dst / src)
        return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)

    if phone:
        return resample(resample(pcm, audio.sample_rate, 8000), 8000, 16000)
    return resample(pcm, audio.sample_rate, 16000)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_voice(voice_id: str, texts: list[str], settings: Settings, engine, phone: bool) -> dict:
    synth = get_synth(settings, "de", voice_id)
    synth.synthesize("Hallo.")  # warm: the first subprocess start is not what a caller waits for
    rtfs, first_ms, refs, hyps = [], [], [], []
    for text in texts:
        pieces = []
        for index, sentence in enumerate(split_sentences(text)):
            start = time.perf_counter()
            audio = synth.synthesize(sentence)
            elapsed = time.perf_counter() - start
            if index == 0:
                first_ms.append(elapsed * 1000)
            if audio.duration_s > 0:
                rtfs.append(elapsed / audio.duration_s)
            pieces.append(to_16k(audio, phone))
            pieces.append(np.zeros(3200, dtype=np.float32))  # 0.2 s between sentences
        wav = np.concatenate(pieces)
        result = engine.transcribe(wav, languages=("de", "en"), preferred="de", trimmed=len(wav) < 16000 * 25)
        refs.append(normalise(text))
        hyps.append(normalise(result.text) or "<leer>")
    return {"voice": voice_id, "engine_voice_id": synth.voice_id, "texts": len(texts),
            "wer": round(jiwer.wer(refs, hyps), 4),
            "rtf_median": round(statistics.median(rtfs), 4), "rtf_p95": round(_pct(rtfs, 0.95), 4),
            "first_audio_ms_median": round(statistics.median(first_ms), 1),
            "first_audio_ms_p95": round(_pct(first_ms, 0.95), 1),
            "examples": [{"reference": r, "heard": h} for r, h in list(zip(refs, hyps))[:3]]}


def run(answers: int = 20, phone: bool = False, only: list[str] | None = None) -> dict:
    settings = Settings()
    engine = registry.whisper_engine(settings)
    texts = demo_texts(answers)
    installed = [v.id for v in voices.installed_voices("de") if not only or v.id in only]
    order = [voices.ESPEAK] + [v for v in installed if v != voices.ESPEAK]  # the baseline first
    rows = [measure_voice(v, texts, settings, engine, phone) for v in order]
    base = rows[0]
    for row in rows:
        row["wer_vs_espeak"] = round(row["wer"] - base["wer"], 4)
        row["rtf_ratio_to_espeak"] = round(row["rtf_median"] / base["rtf_median"], 2) if base["rtf_median"] else None
    best = min(rows, key=lambda r: (r["wer"], r["rtf_median"]))
    return {"eval": "tts_voices", "company": "praxis-berger", "texts": len(texts), "phone_band": phone,
            "recogniser": str(engine.model_dir), "baseline": voices.ESPEAK, "lowest_wer": best["voice"],
            "voices": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=Path("reports/tts_voices.json"))
    parser.add_argument("--answers", type=int, default=20, help="FAQ answers besides the greeting")
    parser.add_argument("--phone", action="store_true", help="through the 8 kHz telephone band")
    parser.add_argument("--voices", nargs="*", help="only these voice ids (espeak-ng is always measured)")
    args = parser.parse_args()
    report = run(args.answers, args.phone, args.voices)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"{'voice':<12} {'WER':>6} {'RTF p50':>8} {'RTF p95':>8} {'first ms p50':>13} {'p95':>7}")
    for r in report["voices"]:
        print(f"{r['voice']:<12} {r['wer']:>6.3f} {r['rtf_median']:>8.3f} {r['rtf_p95']:>8.3f} "
              f"{r['first_audio_ms_median']:>13.1f} {r['first_audio_ms_p95']:>7.1f}")


if __name__ == "__main__":
    main()
