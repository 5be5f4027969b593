"""German hearing on the telephone: WER, language-detection accuracy and decoder-loop rate per line condition.

    python -m evals.stt_phone_de --json reports/stt_phone_de.json [--voices N] [--model-dir DIR] [--beam-size N]
        [--shared-data DIR]

Callers: the German recordings of the shared data (Picovoice leopard ``test_de.wav`` with an exact reference;
Picovoice rhino's two German commands, language only), German caller lines synthesised with voices the product
does not speak with (:mod:`evals.phone_audio`: MBROLA de1-de7, SVOX pico), and a few English recordings (leopard,
JFK, Asterisk 8 kHz prompts) to check that a real English caller is still followed. Conditions
(:data:`evals.phone_audio.CONDITIONS`): clean 16 kHz, simulated 8 kHz µ-law, the same with white noise at 15 dB SNR,
and 8 kHz µ-law plus a 300-3400 Hz band filter before Whisper (a candidate pre-filter, kept only if it helps).

Per condition and group: WER (normalised, jiwer), language accuracy with the product's rule
(:func:`bot.pipeline.whisper_engine.pick_language` with the utterance's voiced duration) and with the rule before
issue 14 (probability only), the loop rate (the first trimmed decode tripped a loop guard) and how many loops
reached the brain (the final text still repeats; must be 0), and recogniser time median / p95.
The company's default language is German (``preferred="de"``), as for a German company. The telephone line is
simulated (sox), say so when quoting. Sources and licences: ../shared/data/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path

import jiwer

from evals import phone_audio
from evals.stt_wer import normalise

# Short caller lines as a German company hears them; the first two are issue 14's.
LINES = (
    "Guten Tag.",
    "Wie lange haben Sie am Samstag geöffnet?",
    "Ich möchte einen Termin vereinbaren.",
    "Können Sie mich bitte zurückrufen?",
    "Ist die Praxis barrierefrei?",
    "Mein Name ist Anna Schmidt.",
)
LOOP_GUARDS = ("token budget", "repeated", "compression")


def recordings(shared: Path) -> list[dict]:
    out = []
    leo = shared / "speech_picovoice_leopard"
    if (leo / "transcripts.tsv").is_file():
        for row in csv.DictReader((leo / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t"):
            out.append({"group": f"recorded_{row['language']}", "id": row["file"], "path": leo / row["file"],
                        "ref": row["transcript"], "language": row["language"]})
    rhino = shared / "speech_picovoice_rhino"
    for name in ("test_within_context_de.wav", "test_out_of_context_de.wav"):
        if (rhino / name).is_file():  # no word reference: language and loops only
            out.append({"group": "recorded_de_noref", "id": name, "path": rhino / name, "ref": None, "language": "de"})
    jfk = shared / "speech_whisper_jfk" / "jfk.flac"
    if jfk.is_file():
        out.append({"group": "recorded_en", "id": jfk.name, "path": jfk, "ref": None, "language": "en"})
    ast = shared / "speech_asterisk_en_8k"
    if (ast / "transcripts.tsv").is_file():
        for row in list(csv.DictReader((ast / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t"))[:4]:
            out.append({"group": "recorded_en", "id": row["file"], "path": ast / row["file"], "ref": None,
                        "language": "en"})
    return out


def synthetic(voices: list[str]) -> list[dict]:
    return [{"group": "synthetic_de", "id": f"{voice}:{line}", "voice": voice, "text": line, "ref": line,
             "language": "de"} for voice in voices for line in LINES]


def _stats(values: list[float]) -> dict:
    if not values:
        return {"median": None, "p95": None}
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


def run(shared: Path, n_voices: int | None = None, model_dir: Path | None = None, beam_size: int = 1) -> dict:
    from bot.pipeline.whisper_engine import MIN_SWITCH_S, SWITCH_PROBABILITY, WhisperEngine, repetition_problem
    from bot.runtime.wav_call import load_audio

    from bot.pipeline import registry
    from bot.settings import Settings

    if model_dir is None and beam_size == 1:
        engine = registry.whisper_engine(Settings())  # the product's own recogniser, as calls use it
    else:
        engine = WhisperEngine(model_dir or registry.whisper_base_dir(Settings()), beam_size=beam_size)
    voices = phone_audio.available_voices()[:n_voices]
    clips = recordings(shared) + synthetic(voices)
    rows = []
    for i, clip in enumerate(clips):
        clean = load_audio(clip["path"]) if "path" in clip else phone_audio.synthesise(clip["text"], clip["voice"])
        for cond in phone_audio.CONDITIONS:
            audio = phone_audio.condition(clean, cond, seed=i)
            res = engine.transcribe(audio, languages=("de", "en"), preferred="de")
            scores = res.language_scores
            old = max(scores, key=scores.get) if scores else res.language
            if scores and old != "de" and scores[old] < SWITCH_PROBABILITY:
                old = "de"
            rows.append({"group": clip["group"], "id": clip["id"], "condition": cond, "reference": clip["ref"],
                         "language": clip["language"], "text": res.text, "detected": res.language,
                         "detected_old_rule": old, "scores": scores, "window": res.window, "guard": res.guard,
                         "loop": bool(res.guard and res.guard.startswith(LOOP_GUARDS)),
                         "loop_reached_brain": bool(res.text and repetition_problem(res.text)),
                         "audio_s": len(audio) / 16000, "elapsed_ms": res.elapsed_ms})

    summary: dict = {}
    for cond in phone_audio.CONDITIONS:
        summary[cond] = {}
        for group in sorted({r["group"] for r in rows}):
            chosen = [r for r in rows if r["condition"] == cond and r["group"] == group]
            with_ref = [r for r in chosen if r["reference"]]
            summary[cond][group] = {
                "clips": len(chosen),
                "wer": jiwer.wer([normalise(r["reference"]) for r in with_ref],
                                 [normalise(r["text"]) or "<empty>" for r in with_ref]) if with_ref else None,
                "language_accuracy": sum(r["detected"] == r["language"] for r in chosen) / len(chosen),
                "language_accuracy_old_rule": sum(r["detected_old_rule"] == r["language"] for r in chosen) / len(chosen),
                "loop_rate": sum(r["loop"] for r in chosen) / len(chosen),
                "loops_reached_brain": sum(r["loop_reached_brain"] for r in chosen),
                "elapsed_ms": _stats([r["elapsed_ms"] for r in chosen]),
            }
    german = [r for r in rows if r["language"] == "de"]
    return {"eval": "stt_phone_de", "model": str(engine.model_dir), "beam_size": beam_size, "voices": voices,
            "rule": {"switch_probability": SWITCH_PROBABILITY, "min_switch_s": MIN_SWITCH_S, "preferred": "de"},
            "telephone": "simulated: sox 8 kHz G.711 u-law, back to 16 kHz with soxr; noise: white, 15 dB SNR",
            "load_avg": os.getloadavg(),
            "german_language_accuracy": sum(r["detected"] == "de" for r in german) / max(1, len(german)),
            "german_language_accuracy_old_rule": sum(r["detected_old_rule"] == "de" for r in german) / max(1, len(german)),
            "loops_reached_brain": sum(r["loop_reached_brain"] for r in rows),
            "summary": summary, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("RECEPTIONIST_SHARED_DATA", Path.cwd().parent / "shared" / "data")))
    parser.add_argument("--voices", type=int, default=None, help="at most this many synthetic voices")
    parser.add_argument("--model-dir", type=Path, default=None, help="a local faster-whisper folder (default: base)")
    parser.add_argument("--beam-size", type=int, default=1, help="decoder beam (the product decodes greedily: 1)")
    args = parser.parse_args()
    started = time.time()
    report = run(args.shared_data, args.voices, args.model_dir, args.beam_size)
    report["wall_s"] = time.time() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=float), encoding="utf-8")
    for cond, groups in report["summary"].items():
        for group, s in groups.items():
            wer = "  -  " if s["wer"] is None else f"{s['wer']:.3f}"
            print(f"{cond:>24} {group:>18}: WER {wer} lang {s['language_accuracy']:.2f} "
                  f"(old rule {s['language_accuracy_old_rule']:.2f}) loops {s['loop_rate']:.2f} "
                  f"reached brain {s['loops_reached_brain']} p50 {s['elapsed_ms']['median']:.0f} ms "
                  f"p95 {s['elapsed_ms']['p95']:.0f} ms")
    print(f"German language accuracy {report['german_language_accuracy']:.3f} "
          f"(old rule {report['german_language_accuracy_old_rule']:.3f}); loops reaching the brain "
          f"{report['loops_reached_brain']}; report written to {args.json}")


if __name__ == "__main__":

    main()
