"""faster-whisper recognition tuned for short telephone utterances (no pipecat here; the STT service wraps it).

Why not ``WhisperModel.transcribe``: it always pads the mel features to a 30 s window, and on a 2-core CPU the
encoder then costs ~0.8 s even for a 2 s utterance. CTranslate2's Whisper encoder accepts shorter windows, so we
encode the utterance plus 1 s of padding (the *trimmed window*) and decode greedily with a token budget derived
from the duration. The trimmed window occasionally makes the decoder loop (a sentence repeated), so every trimmed
result passes guards (budget reached, repeated n-grams, gzip compression ratio, low log-probability) and falls
back to the classic 30 s window when any guard trips.

Language: Whisper's free language detection picks among ~100 languages and happily answers "nn" for a German
caller on a bad line. We take the detector's probabilities over the *allowed* languages only (the company's, de/en
by default) and renormalise them. The company's default language is preferred: a caller is switched to the other
language only when its probability clearly wins (:data:`SWITCH_PROBABILITY`). Whisper-base's detector is unsure on
synthetic or band-limited German (espeak-ng's "Wie sind Ihre Öffnungszeiten?" scored English), and transcribing
German speech "as English" yields gibberish that no later step can repair, while a real English caller scores far
above the threshold.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # mel frames (hop 160)
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window
# Padding (mel frames) after the utterance in the trimmed window, per attempt; after the last attempt, the classic
# 30 s window. The issue measured "utterance + 1 s". Measured here on utterances as the pipeline hands them over
# (leading silence trimmed to 0.15 s, 0.2 s VAD tail; 6 espeak questions + 4 recorded clips), the decoder looped
# (the sentence repeated until the token budget) on 4/10 with +1 s, 2/10 with +3 s, 0/10 with +5 s, and +5 s had
# the lowest mean time, loops included; on the raw clips of evals/stt_wer.py +1 s looped on 4/52, +5 s on none.
TRIMMED_PADS = (500,)
# A long utterance does not need the whole +5 s: what keeps the decoder from looping is a window of several seconds,
# not the padding itself. By default the pad is therefore 8 s minus the utterance, at least 2 s and at most 5 s
# (utterances under 3 s keep +5 s). Measured on the 48 exact-reference clips of evals/stt_wer.py: same guard
# trips (1/48), WER 0.042 vs 0.045, ~10 % less recogniser time on clips over 4 s (encoder and cross-attention).
MIN_WINDOW_FRAMES = 800
MIN_PAD_FRAMES = 200


def default_pads(n_frames: int) -> tuple[int, ...]:
    """The trimmed-window padding (mel frames) for an utterance of ``n_frames`` (see :data:`MIN_WINDOW_FRAMES`)."""
    return tuple(min(pad, max(MIN_PAD_FRAMES, MIN_WINDOW_FRAMES - n_frames)) for pad in TRIMMED_PADS)
# Speaking-rate ceiling for the token budget: callers say ~2.5-3.5 words/s, ~1.5 tokens/word (German compounds
# more). A loop runs into the budget quickly, and a decode that hits it is retried, never trusted.
TOKENS_PER_SECOND = 6.5
TOKEN_SLACK = 10
MAX_COMPRESSION_RATIO = 2.4
MIN_AVG_LOGPROB = -1.0
NO_SPEECH_THRESHOLD = 0.6
SILENCE_PEAK = 0.005  # about -46 dBFS: below this there is nothing to recognise
# Renormalised probability (over the allowed languages) the non-default language needs to be chosen. Measured with
# evals/stt_phone_de.py (German company, simulated 8 kHz µ-law, 15 dB noise): real English recordings score
# p(en) >= 0.998 in every condition, while MBROLA/pico German callers reached p(en) 0.88-0.99 on 2-3 s lines, so
# the old 0.8 switched 16 % of German utterances to English. Decoding both languages and comparing scores does
# not separate them: Whisper forced to German *translates* English fluently (measured: English followed 0-33 %).
SWITCH_PROBABILITY = 0.995
# ... and the utterance it is heard on must be at least this long: on "Guten Tag." over an 8 kHz line whisper-base
# says English (issue 14), and a short greeting is no evidence for a switch. A real English caller who says more
# than a greeting is followed from the first utterance of 1.5 s or more (evals/stt_phone_de.py measures both).
MIN_SWITCH_S = 1.5


class TranscriptionCancelled(Exception):
    """A speculative transcription was called off (the caller went on speaking) before it finished."""


@dataclass(frozen=True)
class SttResult:
    """One recognised utterance and how it was obtained (for logs, evals and latency reports)."""

    text: str
    language: str
    language_probability: float
    window: str  # "trimmed", "trimmed-retry" (longer pad), "full" (asked for), "fallback" (trimmed failed guards)
    guard: str | None = None  # which guard rejected the first trimmed decode (None: it was accepted)
    duration_s: float = 0.0
    elapsed_ms: float = 0.0
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    tokens: int = 0
    language_scores: dict[str, float] = field(default_factory=dict)


def trim_leading_silence(audio: np.ndarray, *, keep_s: float = 0.15) -> np.ndarray:
    """Drop the quiet start of an utterance (the pipeline keeps a generous pre-roll so no onset is lost), keeping
    ``keep_s`` before the first voiced 20 ms frame. Less audio to encode, and a consistent input for the decoder."""
    frame = int(0.02 * SAMPLE_RATE)
    n = len(audio) // frame
    if n < 3:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    threshold = max(0.003, 0.08 * float(np.percentile(rms, 95)))
    voiced = np.flatnonzero(rms > threshold)
    if voiced.size == 0:
        return audio
    start = max(0, voiced[0] * frame - int(keep_s * SAMPLE_RATE))
    return audio[start:]


def pick_language(scores: dict[str, float], preferred: str | None,
                  duration_s: float | None = None) -> tuple[str, float]:
    """The detected language among renormalised ``scores``, biased toward ``preferred`` (the company's default):
    another language wins only with at least :data:`SWITCH_PROBABILITY` and, when ``duration_s`` is given, on an
    utterance of at least :data:`MIN_SWITCH_S` (ties and short or unclear utterances keep the default).
    Returns (language, its probability)."""
    best = max(scores, key=scores.get)
    if preferred in scores and best != preferred:
        short = duration_s is not None and duration_s < MIN_SWITCH_S
        if scores[best] < SWITCH_PROBABILITY or short:
            best = preferred
    return best, scores[best]


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(gzip.compress(data)))


def repetition_problem(text: str) -> str | None:
    """Why ``text`` looks like a decoder loop, or None.

    Catches a word n-gram (n = 1..8) repeated three or more times back to back ("ja ja ja ja" is caught only from
    four repeats of a single word, which real callers rarely say) and a whole sentence said twice.
    """
    words = [w.strip(".,!?;:\"'").lower() for w in text.split()]
    words = [w for w in words if w]
    for n in range(1, 9):
        needed = 4 if n == 1 else 3
        if len(words) < n * needed:
            break
        for i in range(0, len(words) - n * needed + 1):
            gram = words[i:i + n]
            if all(words[i + k * n:i + (k + 1) * n] == gram for k in range(1, needed)):
                return f"repeated {n}-gram {' '.join(gram)!r}"
    # A loop that restarts the sentence: any 4 words appearing twice in a short utterance. Real callers do repeat
    # themselves, but then the full window merely costs time; a loop would cost the caller's meaning.
    n = 4
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if len(grams) != len(set(grams)):
        return "repeated 4-word sequence"
    return None


class WhisperEngine:
    """A loaded faster-whisper model plus the trimmed-window decoder. Thread-safe: calls are serialised.

    Loading costs ~0.5 s and ~150 MB. The process shares a few of these in a
    :class:`~bot.pipeline.whisper_pool.WhisperPool` (see :func:`bot.pipeline.registry.whisper_engine`): on 2 cores
    two single-threaded copies finish a burst of 8 utterances in ~1.3 s where one copy needs ~1.9 s.
    """

    def __init__(self, model_dir: Path, *, cpu_threads: int | None = None, compute_type: str = "int8",
                 beam_size: int = 1):
        """``beam_size`` 1 is greedy decoding, the product's choice: beam 3 lowered the synthetic German 8 kHz WER
        (0.43 -> 0.35) but not the recording's, at +60 ms per utterance and more CPU per simultaneous call
        (evals/stt_phone_de.py --beam-size; docs/results.md)."""
        from faster_whisper import WhisperModel

        if not Path(model_dir).is_dir():
            raise FileNotFoundError(f"whisper model folder {model_dir} does not exist (a local folder, never a hub name)")
        threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.model_dir = Path(model_dir)
        self.beam_size = max(1, int(beam_size))
        self._fw = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads,
                                local_files_only=True)
        self._ct2 = self._fw.model
        self.multilingual = bool(self._ct2.is_multilingual)
        self._tok = self._fw.hf_tokenizer
        self._lock = threading.Lock()
        self._sot = self._tok.token_to_id("<|startoftranscript|>")
        self._transcribe_id = self._tok.token_to_id("<|transcribe|>")
        self._notimestamps = self._tok.token_to_id("<|notimestamps|>")
        self._eot = self._tok.token_to_id("<|endoftext|>")
        self._suppress = [-1]  # faster-whisper's default: the model's own non-speech symbols

    # --- features ------------------------------------------------------------------------------------------------
    def features(self, audio: np.ndarray) -> np.ndarray:
        """Log-mel features of the whole utterance, [n_mels, n_frames] (no 30 s padding yet)."""
        feats = self._fw.feature_extractor(audio, padding=160)
        return feats[..., :-1] if feats.shape[-1] > 1 else feats

    @staticmethod
    def _window(feats: np.ndarray, frames: int) -> np.ndarray:
        frames += frames % 2  # the encoder's stride-2 convolution wants an even length
        if feats.shape[-1] >= frames:
            return np.ascontiguousarray(feats[..., :frames])
        return np.ascontiguousarray(np.pad(feats, ((0, 0), (0, frames - feats.shape[-1]))))

    # --- decoding ------------------------------------------------------------------------------------------------
    def _encode(self, window: np.ndarray):
        import ctranslate2

        return self._ct2.encode(ctranslate2.StorageView.from_array(window[None].astype(np.float32)), to_cpu=False)

    def _language(self, encoded, allowed: tuple[str, ...], preferred: str | None = None,
                  duration_s: float | None = None) -> tuple[str, float, dict[str, float]]:
        if not self.multilingual:
            return "en", 1.0, {"en": 1.0}
        pairs = self._ct2.detect_language(encoded)[0]
        scores = {tok.strip("<|>"): p for tok, p in pairs if tok.strip("<|>") in allowed}
        if not scores:
            return preferred or allowed[0], 0.0, {}
        total = sum(scores.values()) or 1.0
        scores = {k: v / total for k, v in scores.items()}
        return pick_language(scores, preferred, duration_s) + (scores,)

    def _generate(self, encoded, language: str, max_new: int, **controls):
        prompt = [self._sot]
        if self.multilingual:
            prompt += [self._tok.token_to_id(f"<|{language}|>"), self._transcribe_id]
        prompt.append(self._notimestamps)
        # Measured with ctranslate2 4.8.5: greedy Whisper decoding stops after max_length / 2 new tokens, so the
        # limit is doubled and "ran into the budget" is judged on the returned length.
        res = self._ct2.generate(encoded, [prompt], beam_size=self.beam_size, max_length=2 * max_new + len(prompt),
                                 return_scores=True, return_no_speech_prob=True, suppress_blank=True,
                                 suppress_tokens=self._suppress, **controls)[0]
        tokens = [t for t in res.sequences_ids[0] if t < self._eot]
        text = self._tok.decode(tokens).strip()
        n = max(1, len(res.sequences_ids[0]))
        avg = float(res.scores[0]) / n if res.scores else 0.0
        return text, tokens, avg, float(res.no_speech_prob), len(res.sequences_ids[0]) >= max_new

    def transcribe(self, audio: np.ndarray, *, languages: tuple[str, ...] = ("de", "en"), trimmed: bool = True,
                   language: str | None = None, pads: tuple[int, ...] | None = None,
                   preferred: str | None = None, cancel: threading.Event | None = None) -> SttResult:
        """Recognise one utterance (float32 mono 16 kHz). ``language`` forces it; else detect among ``languages``,
        keeping ``preferred`` (the company's default) unless another language clearly wins (:func:`pick_language`).

        ``pads`` overrides :func:`default_pads` (mel frames after the utterance per attempt; for evals). ``cancel``
        (set by another thread) stops a speculative transcription between stages with :class:`TranscriptionCancelled`,
        so a stale job frees the engine for the one that matters (CTranslate2 cannot stop inside one call).
        """

        def check() -> None:
            if cancel is not None and cancel.is_set():
                raise TranscriptionCancelled()

        audio = np.asarray(audio, dtype=np.float32)
        duration = len(audio) / SAMPLE_RATE
        start = time.perf_counter()
        if audio.size == 0 or float(np.abs(audio).max()) < SILENCE_PEAK:
            # Whisper "hears" sentences in silence; the VAD normally keeps silence away, this keeps it away always.
            return SttResult(text="", language=language or languages[0], language_probability=0.0, window="skipped",
                             duration_s=duration, elapsed_ms=(time.perf_counter() - start) * 1000)
        with self._lock:
            check()
            feats = self.features(audio)
            n_frames = feats.shape[-1]
            pads = default_pads(n_frames) if pads is None else pads
            budget = int(math.ceil(duration * TOKENS_PER_SECOND)) + TOKEN_SLACK
            speech_s = voiced_seconds(audio)
            guard = first_guard = None
            for pad in pads if trimmed else ():
                if n_frames + pad >= FULL_WINDOW_FRAMES:
                    break
                encoded = self._encode(self._window(feats, n_frames + pad))
                check()
                lang, lang_p, scores = ((language, 1.0, {language: 1.0}) if language
                                        else self._language(encoded, languages, preferred, speech_s))
                text, tokens, avg, nsp, hit_budget = self._generate(encoded, lang, budget)
                guard = self._guard(text, avg, hit_budget, nsp)
                if guard is None:
                    window = "trimmed" if pad == pads[0] else "trimmed-retry"
                    return self._result(text, lang, lang_p, window, first_guard, duration, start, avg, nsp, tokens,
                                        scores)
                first_guard = first_guard or guard
                log.info("trimmed window (+%d ms) rejected (%s): %r", pad * 10, guard, text)
                check()
            encoded = self._encode(self._window(feats, FULL_WINDOW_FRAMES))
            lang, lang_p, scores = ((language, 1.0, {language: 1.0}) if language
                                    else self._language(encoded, languages, preferred, speech_s))
            text, tokens, avg, nsp, _ = self._generate(encoded, lang, min(220, max(budget * 2, 64)))
            if repetition_problem(text):
                # The full window looped too: decode once more with CTranslate2's repetition controls, and
                # whatever still repeats is cut (no decoder loop may reach the brain; issue 14's "new, new, new").
                log.info("full window looped (%s): %r", repetition_problem(text), text)
                text, tokens, avg, nsp, _ = self._generate(encoded, lang, min(220, max(budget * 2, 64)),
                                                           repetition_penalty=1.3, no_repeat_ngram_size=4)
                text = collapse_repeats(text)
            return self._result(text, lang, lang_p, "fallback" if guard else "full", first_guard, duration, start, avg,
                                nsp, tokens, scores)

    @staticmethod
    def _guard(text: str, avg_logprob: float, hit_budget: bool, no_speech_prob: float) -> str | None:
        if hit_budget:
            return "token budget reached"
        if text and (problem := repetition_problem(text)):
            return problem
        if len(text) > 24 and compression_ratio(text) > MAX_COMPRESSION_RATIO:
            return "compression ratio"
        if text and avg_logprob < MIN_AVG_LOGPROB and no_speech_prob < NO_SPEECH_THRESHOLD:
            return "low confidence"
        return None

    @staticmethod
    def _result(text, lang, lang_p, window, guard, duration, start, avg, nsp, tokens, scores) -> SttResult:
        if nsp > NO_SPEECH_THRESHOLD and avg < MIN_AVG_LOGPROB:
            text = ""  # Whisper's own "nothing was said" verdict: do not hand the brain a hallucination
        return SttResult(text=text, language=lang, language_probability=lang_p, window=window, guard=guard,
                         duration_s=duration, elapsed_ms=(time.perf_counter() - start) * 1000, avg_logprob=avg,
                         no_speech_prob=nsp, tokens=len(tokens), language_scores=scores)


def voiced_seconds(audio: np.ndarray) -> float:
    """Seconds of 20 ms frames above the utterance's noise floor: the evidence a language switch is judged on
    (the trimmed silence and the VAD tail are no evidence)."""
    frame = int(0.02 * SAMPLE_RATE)
    n = len(audio) // frame
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    floor = float(np.percentile(rms, 10))
    threshold = max(0.003, 2.0 * floor, 0.08 * float(np.percentile(rms, 95)))
    return float(np.count_nonzero(rms > threshold)) * 0.02


def collapse_repeats(text: str) -> str:
    """``text`` with every back-to-back repeated word n-gram kept once and every repeated sentence dropped, cut
    before any repetition that is left, so that :func:`repetition_problem` is None on the result.

    The last line of defence after the full window also looped: "We are going to have a new, new, new, new, ..."
    becomes "We are going to have a new". Losing the tail of a loop loses nothing the caller said.
    """
    words = text.split()

    def key(w: str) -> str:
        return w.strip(".,!?;:\"'…").lower()

    changed = True
    while changed:
        changed = False
        keys = [key(w) for w in words]
        for n in range(1, 9):
            for i in range(0, len(words) - 2 * n + 1):
                gram = keys[i:i + n]
                if not all(gram) or keys[i + n:i + 2 * n] != gram:
                    continue
                reps = 2
                while keys[i + reps * n:i + (reps + 1) * n] == gram:
                    reps += 1
                if reps >= (4 if n == 1 else 3) or (n >= 3):
                    words = words[:i + n] + words[i + reps * n:]
                    changed = True
                    break
            if changed:
                break
    out = _drop_repeats(" ".join(words).rstrip(" ,;:…")) if words else ""
    parts = re.findall(r"[^.!?]+[.!?]*", out)
    if len(parts) > 1:  # a loop cut off mid-sentence: "... geöffnet? Wie lange haben" (a restart of a sentence)
        tail = [key(w) for w in parts[-1].split()]
        if any([key(w) for w in p.split()][:len(tail)] == tail for p in parts[:-1]):
            out = "".join(parts[:-1]).strip()
    while out and repetition_problem(out):
        out = " ".join(out.split()[:-1])  # what is left still repeats a 4-word sequence: cut until it does not
    return out.rstrip(" ,;:…") if out else ""


def _drop_repeats(text: str) -> str:
    """Keep the first occurrence of each sentence (with its own ending, so a question stays a question)."""
    seen: list[str] = []
    for part in re.findall(r"[^.!?]+[.!?]*", text):
        part = part.strip()
        body = part.rstrip(".!?").strip().lower()
        if body and body not in (s.rstrip(".!?").strip().lower() for s in seen):
            seen.append(part)
    out = " ".join(seen)
    return out if not out or out[-1] in ".!?" else out + "."
