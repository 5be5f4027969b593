"""Word error rate of the recogniser on the public speech in ../shared/data, full 30 s window vs trimmed window.

    python -m evals.stt_wer --json reports/stt_wer.json [--shared-data DIR] [--limit N]

Clips: Picovoice leopard (de, en), Whisper's JFK clip (en), Asterisk telephone prompts (en, 8 kHz), faster-whisper's
multilingual clip (en then de; its reference is APPROXIMATE, reported apart). Transcripts are normalised (lower
case, punctuation removed) before jiwer computes WER. Modes: ``full`` (classic 30 s window), ``trimmed`` (the
product: an 8 s window, at least utterance + 2 s and at most + 5 s, then the full window when a guard trips),
``trimmed_5s`` (always utterance + 5 s, the product until the window became duration-dependent), ``trimmed_1s`` (utterance + 1 s first as the
issue measured, then + 5 s, then full).
Sources and licences: see ../shared/data/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import time
from pathlib import Path

import jiwer

MODES = {"full": {"trimmed": False}, "trimmed": {"trimmed": True}, "trimmed_5s": {"trimmed": True, "pads": (500,)},
         "trimmed_1s": {"trimmed": True, "pads": (100, 500)}}


def normalise(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def clips(shared: Path, limit: int | None) -> list[dict]:
    out = []
    leo = shared / "speech_picovoice_leopard"
    if (leo / "transcripts.tsv").is_file():
        for row in csv.DictReader((leo / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t"):
            out.append({"set": f"leopard_{row['language']}", "path": leo / row["file"], "ref": row["transcript"],
                        "language": row["language"]})
    jfk = shared / "speech_whisper_jfk"
    if (jfk / "transcripts.tsv").is_file():
        for row in csv.DictReader((jfk / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t"):
            out.append({"set": "jfk_en", "path": jfk / row["file"], "ref": row["transcript"], "language": "en"})
    ast = shared / "speech_asterisk_en_8k"
    if (ast / "transcripts.tsv").is_file():
        rows = list(csv.DictReader((ast / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t"))
        for row in rows[:limit] if limit else rows:
            out.append({"set": "asterisk_en_8k", "path": ast / row["file"], "ref": row["transcript"], "language": "en"})
    fw = shared / "speech_faster_whisper"
    if (fw / "transcripts.json").is_file():
        meta = json.loads((fw / "transcripts.json").read_text(encoding="utf-8"))["multilingual.mp3"]
        out.append({"set": "multilingual_approx", "path": fw / "multilingual.mp3", "ref": " ".join(meta["segments"]),
                    "language": "en+de", "long": True})
    return out


def run(shared: Path, limit: int | None = None) -> dict:
    from bot.runtime.wav_call import load_audio, split_utterances
    from bot.pipeline import registry
    from bot.settings import Settings

    engine = registry.whisper_engine(Settings())
    rows = []
    for clip in clips(shared, limit):
        audio = load_audio(clip["path"])
        # Long recordings are cut at pauses into utterances (as the VAD would), each under the 30 s window.
        pieces = split_utterances(audio, min_gap_s=0.5) if clip.get("long") else [audio]
        row = {"set": clip["set"], "file": clip["path"].name, "reference": clip["ref"], "language": clip["language"]}
        for mode, kwargs in MODES.items():
            texts, langs, windows, elapsed = [], [], [], 0.0
            for piece in pieces:
                result = engine.transcribe(piece, languages=("de", "en"), **kwargs)
                texts.append(result.text)
                langs.append(result.language)
                windows.append(result.window + (f"({result.guard})" if result.guard else ""))
                elapsed += result.elapsed_ms
            hyp = " ".join(texts)
            row[mode] = {"text": hyp, "wer": jiwer.wer(normalise(clip["ref"]), normalise(hyp) or "<empty>"),
                         "languages": langs, "windows": windows, "elapsed_ms": elapsed,
                         "audio_s": len(audio) / 16000}
        rows.append(row)

    def agg(mode: str, sets: set[str] | None = None) -> dict:
        chosen = [r for r in rows if sets is None or r["set"] in sets]
        refs = [normalise(r["reference"]) for r in chosen]
        hyps = [normalise(r[mode]["text"]) or "<empty>" for r in chosen]
        return {"clips": len(chosen), "wer": jiwer.wer(refs, hyps) if chosen else None,
                "median_elapsed_ms": statistics.median(r[mode]["elapsed_ms"] for r in chosen) if chosen else None,
                "total_elapsed_ms": sum(r[mode]["elapsed_ms"] for r in chosen)}

    exact_sets = {r["set"] for r in rows} - {"multilingual_approx"}
    summary = {mode: {"all_exact_references": agg(mode, exact_sets),
                      **{s: agg(mode, {s}) for s in sorted({r["set"] for r in rows})}} for mode in MODES}
    language_ok = {mode: sum(r[mode]["languages"][0] == r["language"] for r in rows if r["language"] in ("de", "en"))
                   for mode in MODES}
    return {"eval": "stt_wer", "model": str(engine.model_dir), "compute_type": "int8",
            "note": "shared 2-core machine; other processes may have loaded the CPU (elapsed times are noisy)",
            "load_avg": os.getloadavg(), "summary": summary, "language_correct": language_ok,
            "clips_with_language": sum(r["language"] in ("de", "en") for r in rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("RECEPTIONIST_SHARED_DATA", Path.cwd().parent / "shared" / "data")))
    parser.add_argument("--limit", type=int, default=None, help="at most this many Asterisk clips")
    args = parser.parse_args()
    started = time.time()
    report = run(args.shared_data, args.limit)
    report["wall_s"] = time.time() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    for mode, data in report["summary"].items():
        overall = data["all_exact_references"]
        print(f"{mode:>11}: WER {overall['wer']:.3f} over {overall['clips']} clips, "
              f"median {overall['median_elapsed_ms']:.0f} ms/clip; multilingual(approx) "
              f"{data.get('multilingual_approx', {}).get('wer')}")
    print(f"report written to {args.json}")


if __name__ == "__main__":
    main()
