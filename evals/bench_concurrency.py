"""``receptionist bench concurrency --calls N [--calls M …] --json FILE``: many simultaneous phone calls against one
real ``receptionist serve``.

The server runs as its own process with the demo companies (``serve --demo``), a Twilio auth token, and a loopback
stand-in for Twilio's REST API (the bot may hang up through it). Every caller does what Twilio and a person do:
the signed ``/twilio/voice`` webhook, then a Media Streams websocket with the TwiML's stream URL and parameters,
20 ms µ-law frames in real time, waits for the greeting to finish, asks a question of its company's FAQ
(English synthesised with espeak-ng; German with SVOX Pico, because Whisper mishears espeak-ng's and MBROLA's
German so badly that every German call fell back to the 30 s decoding window, which no real caller causes) and hangs
up once the answer has been heard for a moment. The report lists every call (``per_call``: company, question,
greeting and voice-to-voice time, what the server heard and
its STT / brain / TTS times from its own store) so that a slow answer can be traced to its question. The callers of one round start within ``--spread`` seconds of each other.

Measured per round (N simultaneous calls), from the caller's side of the line:
- ``webhook_ms``: the voice webhook's answer time;
- ``greeting_ms``: from the stream's ``start`` to the first audible bot audio;
- ``voice_to_voice_ms``: from the last voiced frame of the question to the first audible audio of the answer;
- errors (no greeting, no answer, the stream closed early, an HTTP error), and the server's CPU use
  (cores busy = CPU seconds / wall seconds, from /proc).
Each round's p50/p95 is also given as a ratio to the N=1 round of the same run (the baseline).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import httpx
from twilio.request_validator import RequestValidator

from bot.commands.bench import summary
from evals.drivers.sip_line import SipLine
from evals.drivers.twilio_line import TwilioLine
from evals.drivers.ulaw import rms, ulaw_decode

TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "b" * 32
LOUD = 300.0  # RMS of int16 samples above which bot audio counts as heard
GOAL = {"calls": 8, "voice_to_voice_p95_ms": 1500, "errors": 0}

# (company number, language, espeak voice, questions) - questions from the demo companies' own FAQs
CALLERS = [
    ("+4989555507700", "de", "pico:de-DE", ["Wie lange haben Sie am Samstag geöffnet?", "Was kostet ein Ölwechsel?",
                                    "Kann ich mein Auto über Nacht abstellen?"]),
    ("+4930555501200", "de", "pico:de-DE", ["Wann ist die Praxis geöffnet?", "Kann ich ein Rezept telefonisch bestellen?",
                                    "Gibt es Parkplätze bei der Praxis?"]),
    ("+4969555503300", "en", "en-us", ["What are your office hours?", "How do I book an initial consultation?",
                                       "Do you advise in English?"]),
]


@dataclass
class CallResult:
    company_number: str
    language: str
    question: str
    webhook_ms: float | None = None
    greeting_ms: float | None = None
    voice_to_voice_ms: float | None = None
    error: str | None = None
    carrier: str = "twilio"  # "twilio" (Media Streams) or "sip" (direct SIP/RTP)
    call_sid: str = ""
    heard: str | None = None  # what the server transcribed of the question (from its store)
    server_ms: dict[str, float] = field(default_factory=dict)  # the server's stage times of that turn (stt, brain, tts)


@dataclass
class Round:
    calls: int
    results: list[CallResult] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0


# --- the callers' audio -----------------------------------------------------------------------------------------

def synthesise_ulaw(text: str, voice: str, tmp: Path) -> bytes:
    """espeak-ng → 8 kHz µ-law through sox, trimmed to the voiced part (the measurement starts at its end)."""
    name = uuid.uuid4().hex
    wav, raw = tmp / f"{name}.wav", tmp / f"{name}.ul"
    if voice.startswith("pico:"):  # SVOX Pico (Debian libttspico-utils): a German caller Whisper can hear
        subprocess.run(["pico2wave", "-l", voice.split(":", 1)[1], "-w", str(wav), text], check=True)
    else:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav)], input=text.encode(), check=True)
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", str(raw)], check=True)
    data = raw.read_bytes()
    frames = [data[i:i + 160] for i in range(0, len(data), 160)]
    voiced = [i for i, f in enumerate(frames) if rms(ulaw_decode(f)) > LOUD]
    return b"".join(frames[voiced[0]:voiced[-1] + 1]) if voiced else data


# --- the server under test --------------------------------------------------------------------------------------

class TwilioApiStandIn:
    """Loopback stand-in for api.twilio.com: answers every REST call with an empty success (a hang-up)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _ok(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"sid": "CA0", "status": "completed"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = _ok  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A free loopback port: TCP, or UDP with ``socket.SOCK_DGRAM``."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``receptionist serve --demo`` in its own process, on a fresh data dir."""

    def __init__(self, data_dir: Path, api_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
        env.update({"RECEPTIONIST_DATA_DIR": str(data_dir), "RECEPTIONIST_TWILIO_AUTH_TOKEN": TOKEN,
                    "RECEPTIONIST_TWILIO_ACCOUNT_SID": ACCOUNT, "RECEPTIONIST_PUBLIC_URL": self.base,
                    "RECEPTIONIST_TWILIO_API_BASE_URL": api_url,
                    # the direct SIP carrier too, on loopback UDP without a registrar (a Fritz!Box-style direct line)
                    "RECEPTIONIST_SIP_ENABLED": "true", "RECEPTIONIST_SIP_LISTEN": "127.0.0.1",
                    "RECEPTIONIST_SIP_PORT": str(self.sip_port), "RECEPTIONIST_SIP_TRANSPORT": "udp",
                    **(extra_env or {})})
        self.log = open(data_dir.parent / "serve.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo", "--port", str(self.port)],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 300) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise click.ClickException(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                r = httpx.get(self.base + "/readyz", timeout=5)
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise click.ClickException(f"the server was not ready after {timeout_s:.0f} s; see {self.log.name}")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far (all its threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- one caller -------------------------------------------------------------------------------------------------

def heard_since(line: TwilioLine | SipLine, since: float) -> float | None:
    """Arrival time of the first audible bot audio after ``since``."""
    return next((t for t, a in line.bot_audio if t >= since and rms(a) > LOUD), None)


async def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def quiet_for(line: TwilioLine | SipLine, quiet_s: float, timeout_s: float) -> bool:
    """Wait until the bot has been silent for ``quiet_s`` (its greeting is over)."""
    def quiet() -> bool:
        last = max((t for t, a in line.bot_audio if rms(a) > LOUD), default=None)
        played_to = line._play_until
        return last is not None and time.monotonic() - max(last, played_to) >= quiet_s
    return await wait_until(quiet, timeout_s)


async def twilio_call(base: str, number: str, result: CallResult, client: httpx.AsyncClient) -> TwilioLine | None:
    """The signed voice webhook, then the Media Stream the TwiML names (None, with ``result.error``, on failure)."""
    call_sid = result.call_sid = "CA" + uuid.uuid4().hex
    form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": f"+49151{random.randint(1000000, 9999999)}",
            "To": number, "CallStatus": "ringing", "Direction": "inbound"}
    url = base + "/twilio/voice"
    headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form)}
    t0 = time.monotonic()
    try:
        r = await client.post(url, data=form, headers=headers, timeout=20)
    except httpx.HTTPError as exc:
        result.error = f"voice webhook: {type(exc).__name__}"
        return None
    result.webhook_ms = (time.monotonic() - t0) * 1000
    if r.status_code != 200:
        result.error = f"voice webhook: HTTP {r.status_code}"
        return None
    stream = ET.fromstring(r.text).find("./Connect/Stream")
    if stream is None:
        result.error = "voice webhook: no <Stream> in the TwiML"
        return None
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return TwilioLine(stream.get("url"), call_sid=call_sid, account_sid=ACCOUNT, parameters=params)


async def one_call(server: "Server", carrier: str, number: str, language: str, question: str, audio: bytes,
                   delay_s: float, client: httpx.AsyncClient) -> CallResult:
    result = CallResult(number, language, question, carrier=carrier)
    await asyncio.sleep(delay_s)
    if carrier == "sip":
        line = SipLine("127.0.0.1", server.sip_port, number=number, caller=f"+49151{random.randint(1000000, 9999999)}")
        result.call_sid = line.call_sid
    else:
        line = await twilio_call(server.base, number, result, client)
        if line is None:
            return result
    try:
        async with line:
            started = time.monotonic()
            if not await wait_until(lambda: heard_since(line, started) is not None, 15):
                result.error = "no greeting within 15 s"
                return result
            result.greeting_ms = (heard_since(line, started) - started) * 1000
            if not await quiet_for(line, 0.8, 30):
                result.error = "the greeting did not end within 30 s"
                return result
            await line.say(audio)
            asked = time.monotonic()
            if not await wait_until(lambda: heard_since(line, asked) is not None or line.closed.is_set(), 15):
                result.error = "no answer within 15 s"
                return result
            answered = heard_since(line, asked)
            if answered is None:
                result.error = f"the line closed before the answer (code {line.close_code})"
                return result
            result.voice_to_voice_ms = (answered - asked) * 1000
            await asyncio.sleep(1.0)  # hear a moment of the answer, then hang up as a caller does
    except Exception as exc:  # noqa: BLE001 - any failure of one call is that call's error, the round goes on
        result.error = f"{type(exc).__name__}: {exc}"[:200]
    return result


def carrier_of(i: int, carrier: str) -> str:
    """The i-th caller's carrier: the one asked for, or alternating Twilio / SIP for ``both``."""
    return carrier if carrier != "both" else ("twilio", "sip")[i % 2]


async def run_round(server: Server, n: int, audio: dict[tuple[str, str], bytes], spread_s: float,
                    rng: random.Random, carrier: str = "twilio") -> Round:
    plan = []
    for i in range(n):
        number, language, _, questions = CALLERS[i % len(CALLERS)]
        question = rng.choice(questions)
        plan.append((carrier_of(i, carrier), number, language, question, audio[(number, question)],
                     rng.uniform(0, spread_s)))
    cpu0, t0 = server.cpu_s(), time.monotonic()
    async with httpx.AsyncClient() as client:
        results = await asyncio.gather(*(one_call(server, c, num, lang, q, a, d, client)
                                         for c, num, lang, q, a, d in plan))
    return Round(n, list(results), wall_s=time.monotonic() - t0, cpu_s=server.cpu_s() - cpu0)


def read_server_stages(db: Path, results: list[CallResult]) -> None:
    """Fill in what the server heard of each question and how long its stages took, from its own store
    (``call_turns``): a slow answer is then traced to STT, the brain or TTS, and a misheard question is seen."""
    if not db.exists():
        return
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as con:
        for r in results:
            turns = con.execute("SELECT t.speaker, t.text, t.latency FROM call_turns t JOIN calls c ON c.id = t.call_id"
                                " WHERE c.call_sid = ? ORDER BY t.seq", (r.call_sid,)).fetchall()
            asked = next((i for i, t in enumerate(turns) if t[0] == "caller"), None)
            if asked is None:
                continue
            r.heard = turns[asked][1]
            answer = next((t for t in turns[asked + 1:] if t[0] == "bot"), None)  # the answer turn holds the times
            if answer:
                r.server_ms = {k: round(float(v), 1) for k, v in json.loads(answer[2] or "{}").items()
                               if isinstance(v, (int, float))}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def report_round(rnd: Round, baseline: dict | None) -> dict:
    v2v = summary([r.voice_to_voice_ms for r in rnd.results])
    out = {"calls": rnd.calls, "errors": sum(r.error is not None for r in rnd.results),
           "error_kinds": sorted({r.error for r in rnd.results if r.error}),
           "voice_to_voice_ms": v2v, "greeting_ms": summary([r.greeting_ms for r in rnd.results]),
           "webhook_ms": summary([r.webhook_ms for r in rnd.results]),
           "server_cpu_cores_busy": round(rnd.cpu_s / rnd.wall_s, 2) if rnd.wall_s else None,
           "wall_s": round(rnd.wall_s, 1),
           "carriers": {c: {"calls": sum(r.carrier == c for r in rnd.results),
                            "errors": sum(r.carrier == c and r.error is not None for r in rnd.results),
                            "voice_to_voice_ms": summary([r.voice_to_voice_ms for r in rnd.results if r.carrier == c]),
                            "greeting_ms": summary([r.greeting_ms for r in rnd.results if r.carrier == c])}
                        for c in sorted({r.carrier for r in rnd.results})},
           "per_call": [{"carrier": r.carrier, "company_number": r.company_number, "question": r.question,
                         "greeting_ms": _ms(r.greeting_ms), "voice_to_voice_ms": _ms(r.voice_to_voice_ms),
                         "heard": r.heard, "server_ms": r.server_ms, "error": r.error} for r in rnd.results]}
    if baseline and baseline["voice_to_voice_ms"]["p50"] and v2v["p50"]:
        out["ratio_to_one_call"] = {"voice_to_voice_p50": round(v2v["p50"] / baseline["voice_to_voice_ms"]["p50"], 2),
                                    "voice_to_voice_p95": round(v2v["p95"] / baseline["voice_to_voice_ms"]["p95"], 2)}
    return out


CARRIER_NAMES = {"twilio": "twilio-media-streams", "sip": "sip", "both": "twilio-media-streams+sip"}


def run_bench(calls: list[int], rounds: int, spread_s: float, seed: int, echo=print,
              extra_env: dict[str, str] | None = None, carrier: str = "twilio") -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp_name:
        tmp = Path(tmp_name)
        audio = {(number, q): synthesise_ulaw(q, voice, tmp) for number, _, voice, qs in CALLERS for q in qs}
        api = TwilioApiStandIn()
        (tmp / "data").mkdir()
        server = Server(tmp / "data", api.url, extra_env)
        try:
            t0 = time.monotonic()
            ready = server.wait_ready()
            echo(f"server ready after {time.monotonic() - t0:.1f} s ({ready})")
            report_rounds, baseline = [], None
            for n in sorted(set([1, *calls])):
                rnds = [asyncio.run(run_round(server, n, audio, spread_s, rng, carrier)) for _ in range(rounds)]
                time.sleep(0.5)  # the server writes a call's record as the call ends
                read_server_stages(tmp / "data" / "receptionist.db", [r for rnd in rnds for r in rnd.results])
                merged = Round(n, [r for rnd in rnds for r in rnd.results], wall_s=sum(r.wall_s for r in rnds),
                               cpu_s=sum(r.cpu_s for r in rnds))
                entry = report_round(merged, baseline)
                if n == 1:
                    baseline = entry
                report_rounds.append(entry)
                v = entry["voice_to_voice_ms"]
                echo(f"N={n:>2}: voice-to-voice p50 {fmt(v['p50'])} p95 {fmt(v['p95'])}, greeting p50 "
                     f"{fmt(entry['greeting_ms']['p50'])}, errors {entry['errors']}, "
                     f"server CPU {entry['server_cpu_cores_busy']} cores")
        finally:
            server.stop()
            api.close()
    goal_round = next((r for r in report_rounds if r["calls"] == GOAL["calls"]), None)
    return {"benchmark": "concurrency", "carrier": CARRIER_NAMES[carrier],
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "rounds_per_n": rounds, "spread_s": spread_s, "seed": seed, "server_ready": ready,
            "goal": GOAL, "results": report_rounds,
            "goal_met": bool(goal_round and goal_round["errors"] == 0 and goal_round["voice_to_voice_ms"]["p95"]
                             is not None and goal_round["voice_to_voice_ms"]["p95"] <= GOAL["voice_to_voice_p95_ms"])}


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.0f} ms"


@click.command("concurrency")
@click.option("--calls", "calls", multiple=True, type=click.IntRange(1, 64), default=(1, 2, 4, 8, 12),
              show_default=True, help="Simultaneous calls per round; repeat for a curve (N=1 always runs: baseline).")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON report.")
@click.option("--rounds", default=2, show_default=True, type=click.IntRange(1, 20), help="Rounds per N.")
@click.option("--spread", "spread_s", default=1.0, show_default=True, type=float,
              help="The callers of a round start within this many seconds.")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--carrier", type=click.Choice(["twilio", "sip", "both"]), default="twilio", show_default=True,
              help="How the callers reach the server: Twilio Media Streams, direct SIP/RTP, or half each.")
def concurrency(calls: tuple[int, ...], json_path: Path, rounds: int, spread_s: float, seed: int,
                carrier: str) -> None:
    """Drive N simultaneous Twilio and/or SIP calls against one `receptionist serve` and report voice-to-voice
    p50/p95, greeting time, errors and server CPU per N (and per carrier)."""
    report = run_bench(list(calls), rounds, spread_s, seed, echo=click.echo, carrier=carrier)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"wrote {json_path}; goal (8 calls, p95 <= 1.5 s, no errors) {'met' if report['goal_met'] else 'NOT met'}")


if __name__ == "__main__":
    concurrency()
