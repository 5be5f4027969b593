"""``receptionist bench latency --json FILE [--calls N]``: voice-to-voice latency of whole calls, with a baseline.

Other benchmarks plug in as ``receptionist.bench`` entry points (``bench concurrency`` lives in ``evals/``, which
the product never imports): they are listed and loaded only when run.

Each call is a real pipeline run through the in-process phone line, paced in real time: the caller waits for the
greeting, asks one question (recorded speech from ../shared/data or a question synthesised with espeak-ng), and
hangs up once the answer starts. The same callers then go through a plain pipecat pipeline (stock
``WhisperSTTService`` on the same local model folder, stock ``PiperTTSService``, no pre-synthesis, no early
transcription, no trimmed window), alternating with ours so that background load hits both alike.

``voice_to_voice_ms`` is measured on the line itself: from the end of the caller's voiced audio (the utterance is
trimmed to its voiced part) to the first bot audio the phone receives. Stage figures come from the pipeline's
probes (counted from the VAD's estimate of the end of speech).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click
import numpy as np

from bot import voices
from bot.brain.profile import CompanyProfile
from bot.pipeline import registry
from bot.pipeline.phone_line import HangUpStep, Say, WaitForBot, WhenBotSpeaks
from bot.pipeline.responders import BENCH_REPLIES, FixedReplies, FixedResponder
from bot.pipeline.tts import EspeakSynth, audio_to_float, get_synth, presynthesise
from bot.runtime.wav_call import load_audio, run_call, split_utterances, to_pcm16
from bot.settings import Settings, get_settings

GOAL = {"voice_to_voice_p50_ms": 500, "voice_to_voice_p95_ms": 900, "greeting_ms": 250}


@dataclass
class Caller:
    label: str
    language: str
    audio: np.ndarray  # float32 16 kHz, voiced part only
    source: str  # "recorded" or "synthesised"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def summary(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "mean": statistics.fmean(values) if values else None, "min": min(values) if values else None,
            "max": max(values) if values else None}


def recorded_callers(shared: Path) -> list[Caller]:
    picks = [
        ("leopard test_de.wav", "de", shared / "speech_picovoice_leopard" / "test_de.wav"),
        ("leopard test.wav", "en", shared / "speech_picovoice_leopard" / "test.wav"),
        # Single-sentence telephone prompts (8 kHz): a caller's question is one sentence; multi-sentence prompts
        # would be answered after their first sentence and blur the measurement.
        ("asterisk pls-hold-while-try (8 kHz)", "en", shared / "speech_asterisk_en_8k" / "wav" / "pls-hold-while-try.wav"),
        ("asterisk vm-savefolder (8 kHz)", "en", shared / "speech_asterisk_en_8k" / "wav" / "vm-savefolder.wav"),
        ("asterisk privacy-prompt (8 kHz)", "en", shared / "speech_asterisk_en_8k" / "wav" / "privacy-prompt.wav"),
        ("asterisk cannot-complete-as-dialed (8 kHz)", "en",
         shared / "speech_asterisk_en_8k" / "wav" / "cannot-complete-as-dialed.wav"),
    ]
    callers = []
    for label, lang, path in picks:
        if path.is_file():
            utterances = split_utterances(load_audio(path), min_gap_s=1.5)
            if utterances:
                callers.append(Caller(label, lang, np.concatenate(utterances), "recorded"))
    german = next((c for c in callers if c.language == "de"), None)
    if german is not None:  # the German clip as if over the phone: band-limited through 8 kHz (simulated)
        import soxr

        narrow = soxr.resample(soxr.resample(german.audio, 16000, 8000), 8000, 16000).astype(np.float32)
        callers.append(Caller(german.label + " (simulated 8 kHz telephone)", "de", narrow, "recorded"))
    return callers


def synthesised_callers(texts: dict[str, list[str]]) -> list[Caller]:
    """Questions spoken by espeak-ng (a different voice from the bot's), resampled to 16 kHz."""
    import soxr


    callers = []
    for lang, questions in texts.items():
        synth = EspeakSynth(f"{lang}+f2", rate_wpm=150)  # a female variant: unlike the bot's voice, and recognised best
        for text in questions:
            audio = synth.synthesize(text)
            samples = soxr.resample(audio_to_float(audio.pcm), audio.sample_rate, 16000).astype(np.float32)
            utterances = split_utterances(samples)
            if utterances:
                callers.append(Caller(f"espeak {lang}: {text}", lang, np.concatenate(utterances), "synthesised"))
    return callers


def _line_v2v(record) -> float | None:
    ends = record.times("caller_speech_end")
    if not ends:
        return None
    after = [t for t in record.times("bot_audio_start") if t > ends[-1]]
    return (after[0] - ends[-1]) * 1000 if after else None


async def _one_call(caller: Caller, settings: Settings, *, baseline: bool) -> dict:
    profile = CompanyProfile(slug="bench", name="Bench", default_language=caller.language)
    responder = FixedResponder(FixedReplies.load(), language=caller.language)
    steps = [WaitForBot(quiet_s=0.4), Say(to_pcm16(caller.audio), pause_s=0.0, label=caller.label),
             WhenBotSpeaks(after_s=0.5, timeout_s=15.0), HangUpStep()]
    result = await run_call(steps, profile, responder, settings, baseline_language=caller.language if baseline
                            else None, max_s=90.0)
    greeting = next((lat.first_audio_ms for lat in result.latencies if lat.kind == "greeting"), None)
    reply = next((lat for lat in result.latencies if lat.kind == "reply"), None)
    said = [text for who, text, _ in result.log.lines if who == "caller"]
    intents = [turn.intent for turn in result.log.turns]
    return {"caller": caller.label, "language": caller.language, "source": caller.source,
            "transcript": said[0] if said else None, "intent": intents[1] if len(intents) > 1 else None,
            "voice_to_voice_ms": _line_v2v(result.line), "greeting_ms": greeting,
            "stages_ms": None if reply is None else {
                "end_of_turn": reply.end_of_turn_ms, "stt": reply.stt_ms, "brain": reply.brain_ms,
                "first_audio": reply.first_audio_ms},
            "stt_window": reply.stt_window if reply else None, "early_stt": reply.early_stt if reply else None,
            "speculative": reply.speculative if reply else None,
            "turn_complete": reply.turn_complete if reply else None}


def _presynthesise(settings: Settings) -> int:
    replies = FixedReplies.load()
    return sum(presynthesise(replies.all_texts(lang), lang, settings) for lang in ("de", "en"))


def run_latency_bench(settings: Settings, calls: int, shared: Path, *, baseline: bool = True, echo=print) -> dict:
    import yaml

    load_start = os.getloadavg()
    t0 = time.monotonic()
    registry.warm_up(settings)
    new_sentences = _presynthesise(settings)
    warm_s = time.monotonic() - t0
    synthetic = yaml.safe_load(BENCH_REPLIES.read_text(encoding="utf-8"))["synthetic_callers"]
    pool = recorded_callers(shared) + synthesised_callers(synthetic)
    if not pool:
        raise click.ClickException("no callers: neither ../shared/data nor espeak-ng is available")
    # Interleave languages and sources so any N is a fair mix.
    de = [c for c in pool if c.language == "de"]
    en = [c for c in pool if c.language == "en"]
    mixed = [c for pair in zip(de, en) for c in pair] + de[len(en):] + en[len(de):]
    ours, base = [], []
    for i in range(calls):
        caller = mixed[i % len(mixed)]
        row = asyncio.run(_one_call(caller, settings, baseline=False))
        ours.append(row)
        echo(f"call {i + 1}/{calls} {caller.label}: {row['voice_to_voice_ms'] or float('nan'):.0f} ms "
             f"[{row['intent']}, {row['stt_window']}] {row['transcript']!r}")
        if baseline:
            brow = asyncio.run(_one_call(caller, settings, baseline=True))
            base.append(brow)
            echo(f"   baseline: {brow['voice_to_voice_ms'] or float('nan'):.0f} ms {brow['transcript']!r}")

    def v2v(rows, faq_only=False):
        return [r["voice_to_voice_ms"] for r in rows if r["voice_to_voice_ms"] is not None
                and (not faq_only or r["intent"] == "faq")]

    stage_names = ("end_of_turn", "stt", "brain", "first_audio")
    report = {
        "benchmark": "voice-to-voice latency, whole calls through the in-process phone line (real-time pacing)",
        "calls": calls,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "load_avg_start": load_start,
                    "load_avg_end": os.getloadavg()},
        "note": "shared 2-core machine; other processes (parallel helpers) may have loaded the CPU during the run",
        "warm_up_s": warm_s, "presynthesised_sentences_new": new_sentences,
        "voice_de": get_synth(settings, "de").voice_id,
        "voice_to_voice_ms": summary(v2v(ours)),
        "voice_to_voice_faq_ms": summary(v2v(ours, faq_only=True)),
        "greeting_ms": summary([r["greeting_ms"] for r in ours]),
        "stages_ms": {name: summary([r["stages_ms"][name] for r in ours if r["stages_ms"]]) for name in stage_names},
        "stt_windows": {w: sum(r["stt_window"] == w for r in ours) for w in {r["stt_window"] for r in ours}},
        "smart_turn_incomplete": sum(r["turn_complete"] is False for r in ours),
        "speculative_stt": sum(bool(r["speculative"]) for r in ours),
        "goal": GOAL,
        "per_call": ours,
    }
    if baseline:
        report["baseline_voice_to_voice_ms"] = summary(v2v(base))
        report["baseline_greeting_ms"] = summary([r["greeting_ms"] for r in base])
        report["baseline_stages_ms"] = {name: summary([r["stages_ms"][name] for r in base if r["stages_ms"]])
                                        for name in stage_names}
        report["baseline_per_call"] = base
        ours_v, base_v = report["voice_to_voice_ms"], report["baseline_voice_to_voice_ms"]
        report["ratio"] = {
            "p50": (base_v["p50"] / ours_v["p50"]) if ours_v["p50"] and base_v["p50"] else None,
            "p95": (base_v["p95"] / ours_v["p95"]) if ours_v["p95"] and base_v["p95"] else None,
            "meaning": "baseline latency divided by ours (higher is better)",
        }
    ov = report["voice_to_voice_faq_ms"]
    report["goal_met"] = {
        "voice_to_voice_p50": ov["p50"] is not None and ov["p50"] <= GOAL["voice_to_voice_p50_ms"],
        "voice_to_voice_p95": ov["p95"] is not None and ov["p95"] <= GOAL["voice_to_voice_p95_ms"],
        "greeting": report["greeting_ms"]["p50"] is not None and report["greeting_ms"]["p95"] <= GOAL["greeting_ms"],
    }
    return report


BENCH_PLUGIN_GROUP = "receptionist.bench"
# Benchmarks of this project that live outside the product (in evals/) and plug in through BENCH_PLUGIN_GROUP. They
# are named here, never imported, so that `bench --help` lists them and a missing registration says how to fix it.
KNOWN_PLUGINS = {"concurrency": "N simultaneous Twilio calls against one server: p50/p95, errors, CPU per N."}
INSTALL_FIX = "run `.venv/bin/pip install -e '.[test]'` (or `make install`) in the project folder"


def bench_plugins() -> dict[str, EntryPoint]:
    """Installed benchmark commands by name (``[project.entry-points."receptionist.bench"]``)."""
    return {ep.name: ep for ep in entry_points(group=BENCH_PLUGIN_GROUP)}


def _not_installed(name: str) -> click.Command:
    """Stands in for a known benchmark whose entry point is not registered: listed, and failing with the fix."""

    def run(args: tuple[str, ...]) -> None:
        raise click.ClickException(
            f"`receptionist bench {name}` lives in evals/ and plugs in through the {BENCH_PLUGIN_GROUP!r} entry point, "
            f"which this installation does not register (installed before it was added to pyproject.toml?): "
            f"{INSTALL_FIX}")

    return click.Command(name, callback=run, help=f"{KNOWN_PLUGINS[name]} Not installed: {INSTALL_FIX}.",
                         short_help=f"(not installed) {KNOWN_PLUGINS[name]}",
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True})


class BenchGroup(click.Group):
    """``bench``: its own commands plus the benchmark plugins, each imported only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *KNOWN_PLUGINS, *bench_plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        plugin = bench_plugins().get(name)
        if plugin is None:
            return _not_installed(name) if name in KNOWN_PLUGINS else None
        try:
            return plugin.load()
        except ImportError as exc:
            raise click.ClickException(f"benchmark {name!r} is registered by {plugin.value} but cannot be loaded "
                                       f"({exc}); {INSTALL_FIX}") from None


@click.group(cls=BenchGroup)
def bench() -> None:
    """Benchmarks that write JSON reports."""


@bench.command("latency")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON report.")
@click.option("--calls", default=10, show_default=True, type=click.IntRange(1, 200), help="Calls per pipeline.")
@click.option("--no-baseline", is_flag=True, help="Skip the stock pipecat baseline (halves the run time).")
@click.option("--shared-data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the public test speech (default: ../shared/data).")
@click.option("--voice-de", type=click.Choice(voices.voice_ids("de")), default=None,
              help="German voice of the bot for this run (default: RECEPTIONIST_VOICE_DE).")
def latency(json_path: Path, calls: int, no_baseline: bool, shared_data: Path | None, voice_de: str | None) -> None:
    """End of caller speech -> first bot audio, p50/p95 per stage, against a plain pipecat pipeline."""
    from loguru import logger

    logger.remove()  # pipecat logs every frame event at DEBUG; keep the report readable
    logger.add(lambda msg: None, level="ERROR")
    settings = get_settings()
    if voice_de:
        settings = settings.model_copy(update={"voice_de": voice_de})
    shared = shared_data or Path(os.environ.get("RECEPTIONIST_SHARED_DATA", Path.cwd().parent / "shared" / "data"))
    report = run_latency_bench(settings, calls, shared, baseline=not no_baseline, echo=click.echo)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    v, g = report["voice_to_voice_ms"], report["greeting_ms"]
    click.echo(f"voice-to-voice p50 {v['p50']:.0f} ms, p95 {v['p95']:.0f} ms; greeting p50 {g['p50']:.0f} ms")
    if "baseline_voice_to_voice_ms" in report:
        b = report["baseline_voice_to_voice_ms"]
        click.echo(f"baseline p50 {b['p50']:.0f} ms, p95 {b['p95']:.0f} ms; ratio p50 {report['ratio']['p50']:.1f}x")
    click.echo(f"report written to {json_path}")
