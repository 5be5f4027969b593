"""Warm (attended) transfer on the SIP carrier, with two real SIP agents on loopback: SIPp as the caller's phone
dials the bot; a second SIPp is the secretary's phone, reached through the bot's outbound proxy setting. Each side's
RTP is a Python socket, so the test hears what each heard and presses their keys (RFC 4733).

The caller presses 0 (a person, in office hours): the bot says it connects, the caller hears hold music and is not
listened to, the secretary's phone rings and, answered, plays her the briefing (transcribed here with the product's
recogniser). She presses 1: the caller's side gets a REFER whose Refer-To names her dialog in Replaces (RFC 3891) —
or, when the caller's side refuses REFER, the bot bridges the two calls itself until she hangs up. She declines
(2, sent as SIP INFO), her line is busy (486) or nobody answers (CANCEL after the ring time): the music stops and
the caller is offered a message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from bot.runtime.resolver import StaticResolver
from bot.settings import Settings
from tests.conftest import free_port
from tests.support.caller_audio import caller_ulaw
from tests.support.telephony_harness import wait_for
from tests.telephony.sip.sip_caller import CallerMedia
from tests.telephony.sip.test_sip_call import always_open, bot_turns, sipp, sipp_errors

HERE = Path(__file__).parent
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("sipp") is None,
                                 reason="SIPp is not installed (Debian package sip-tester; `make install` adds it)")]


async def secretary_phone(scenario: str, port: int, tmp: Path, *keys: tuple[str, str], hold_ms: int = 60000):
    """SIPp as a UAS on ``port``: the secretary's phone the bot calls. ``hold_ms`` goes into the scenario's text
    (SIPp takes no keyword in a ``timeout`` attribute)."""
    path = tmp / scenario
    path.write_text((HERE / scenario).read_text().replace("[hold_ms]", str(hold_ms)))
    args = ["sipp", "-sf", str(path), "-m", "1", "-i", "127.0.0.1", "-p", str(port), "-t", "u1",
            "-timeout", "240s", "-nostdin", "-trace_msg", "-message_file", str(tmp / "secretary_messages.log"),
            "-trace_err", "-error_file", str(tmp / "secretary_errors.log"), "-mp", str(free_port())]
    for name, value in keys:
        args += ["-key", name, value]
    return await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE, cwd=tmp)


def call_row(settings: Settings, call_id: str) -> tuple[str, str | None]:
    con = sqlite3.connect(settings.resolved_data_dir / "receptionist.db")
    try:
        return con.execute("SELECT outcome, transferred_to FROM calls WHERE call_sid = ?", (call_id,)).fetchone()
    finally:
        con.close()


def caller_texts(settings: Settings, call_id: str) -> list[str]:
    con = sqlite3.connect(settings.resolved_data_dir / "receptionist.db")
    try:
        return [r[0] for r in con.execute("SELECT t.text FROM call_turns t JOIN calls c ON c.id = t.call_id "
                                          "WHERE c.call_sid = ? AND t.speaker = 'caller'", (call_id,))]
    finally:
        con.close()


class WarmCall:
    """One call to keller-wright (warm transfer on, always open) with the secretary's phone at ``scenario``."""

    def __init__(self, tmp: Path, *, dial_timeout_s: int = 20) -> None:
        self.tmp = tmp
        self.secretary_port = free_port()
        self.dial_timeout_s = dial_timeout_s
        self.procs: list = []

    async def start(self, caller_scenario: str, secretary_scenario: str, hold_ms: int = 60000) -> None:
        from bot.runtime.documents import seed_demo_documents
        from bot.runtime.live_calls import call_services
        from bot.store import repo
        from bot.store.db import init_db, session_scope
        from bot.store.seed import seed_companies
        from bot.telephony.sip.ua import SipUserAgent

        self.settings = Settings(_env_file=None, data_dir=self.tmp / "data", sip_listen="127.0.0.1", sip_port=0,
                                 sip_transport="udp", sip_outbound_proxy=f"127.0.0.1:{self.secretary_port}")
        init_db(self.settings)
        seed_companies(self.settings)
        seed_demo_documents(self.settings)
        with session_scope(self.settings) as db:
            profile = always_open(repo.company_profile(repo.get_company(db, "keller-wright")))
        self.profile = dataclasses.replace(profile, warm_transfer=True)
        self.services = call_services(self.settings)
        self.services.resolver = StaticResolver([self.profile])
        self.services.dial_timeout_s = self.dial_timeout_s
        self.ua = SipUserAgent(self.settings, self.services)
        await self.ua.start()
        loop = asyncio.get_running_loop()
        _, self.caller = await loop.create_datagram_endpoint(CallerMedia, local_addr=("127.0.0.1", 0))
        _, self.secretary = await loop.create_datagram_endpoint(CallerMedia, local_addr=("127.0.0.1", 0))
        self.phone = await secretary_phone(secretary_scenario, self.secretary_port, self.tmp,
                                           ("smport", str(self.secretary.port)), hold_ms=hold_ms)
        self.procs.append(self.phone)
        await asyncio.sleep(0.3)  # SIPp binds its port
        self.proc = await sipp(caller_scenario, self.ua.port, self.tmp, ("number", self.profile.phone_numbers[0]),
                               ("mport", str(self.caller.port)), ("caller", "+4917612345678"))
        self.procs.append(self.proc)
        await wait_for(lambda: self.caller.loud_seconds_since(0) > 0.5 or self.proc.returncode is not None, 120)
        assert self.caller.loud_seconds_since(0) > 0.5, ("no greeting as RTP", self.ua.log, sipp_errors(self.tmp))
        self.call_id = next(iter(self.ua.dialogs))
        self.caller.start()
        assert await wait_for(lambda: self.caller.quiet_for() > 1.0, 60), "the greeting did not end"

    async def ask_for_a_person(self) -> float:
        """Press 0; returns when the secretary's phone has been called (her INVITE is in the user agent's log)."""
        await self.caller.press("0")
        pressed = time.monotonic()
        assert await wait_for(lambda: any(d == "out" and s.startswith("INVITE ") for d, s in self.ua.log), 30), \
            self.ua.log
        return pressed

    def secretary_log(self) -> str:
        path = self.tmp / "secretary_messages.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def secretary_errors(self) -> str:
        path = self.tmp / "secretary_errors.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    async def briefing_heard(self) -> str:
        from bot.pipeline import registry

        assert await wait_for(lambda: self.secretary.loud_seconds_since(0) > 1.0, 60), \
            ("the secretary heard nothing", self.ua.log, self.secretary_errors())
        self.secretary.start()  # her phone's RTP, to where the briefing comes from (keys go there)
        assert await wait_for(lambda: self.secretary.quiet_for() > 1.0, 60), "the briefing did not end"
        heard = registry.whisper_engine(self.settings).transcribe(self.secretary.audio_since(0), languages=("en",))
        return heard.text.lower()

    async def close(self) -> None:
        await self.ua.stop()  # BYE to a caller still with the bot: their SIPp then ends on its own
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        self.caller.close()
        self.secretary.close()


def offered_message(turns: list[tuple[str, str, str | None]]) -> bool:
    """After "I'll put you through" (ask_person), the brain offers a message: the transfer did not connect."""
    intents = [i for i, _, _ in turns]
    return "ask_person" in intents and "take_message" in intents[intents.index("ask_person"):]


def music_during(media: CallerMedia, t0: float, t1: float) -> float:
    """Seconds of sound the caller received between ``t0`` and ``t1``."""
    return sum(0.02 for t, p in media.received if t0 <= t <= t1 and _loud(p))


def _loud(packet) -> bool:
    import numpy as np

    from bot.telephony.sip import rtp

    samples = np.frombuffer(rtp.decode(packet.payload, packet.payload_type), dtype=np.int16)
    return packet.payload_type in (rtp.PCMU, rtp.PCMA) and int(np.abs(samples).max()) > 300


@pytest.mark.parametrize("caller_side", ["refer", "bridge"])
async def test_the_secretary_accepts_after_the_briefing_and_gets_the_caller(tmp_path: Path, caller_side: str) -> None:
    call = WarmCall(tmp_path)
    try:
        await call.start("uac_attended.xml" if caller_side == "refer" else "uac_no_refer.xml", "uas_secretary.xml",
                         hold_ms=60000 if caller_side == "refer" else 30000)
        await call.ask_for_a_person()
        # on hold: the caller's "hello?" is not answered by the bot, and music plays while her phone is briefed
        on_hold = time.monotonic()
        await call.caller.say(caller_ulaw("Hello? Are you still there?", tmp_path, "hello"))
        briefing = await call.briefing_heard()
        briefed = time.monotonic()
        # "Call for Keller & Wright Rechtsanwälte through the AI receptionist. … Callback number: 0176 12345678.
        # Press 1 to take the call, or 2 to decline." (the firm's German name is misheard over 8 kHz)
        assert "call for" in briefing and "press 1" in briefing.replace("one", "1"), briefing
        assert "17612345678" in re.sub(r"\D", "", briefing), briefing  # the callback number
        assert music_during(call.caller, on_hold + 3, briefed) > 0.8 * (briefed - on_hold - 3), \
            "the caller did not hear music on hold"
        await call.secretary.press("1")

        if caller_side == "refer":
            _, stderr = await asyncio.wait_for(call.proc.communicate(), 60)  # REFER, 202, NOTIFY 200, bot's BYE
            log = (tmp_path / "sipp_messages.log").read_text(errors="replace")
            assert call.proc.returncode == 0, stderr.decode()[-2000:] + log[-3000:] + sipp_errors(tmp_path)
            refer_to = re.search(r"Refer-To: <([^>]+)>", log[log.index("REFER sip:"):]).group(1)
            her = call.secretary_log()
            her_call_id = re.search(r"Call-ID: (\S+)", her).group(1)
            bot_tag = re.search(r"From: [^\r\n]*;tag=(\w+)", her).group(1)
            her_tag = re.search(r"To: [^\r\n]*;tag=(\w*SIPpTag01\w*)", her).group(1)
            assert refer_to.startswith("sip:secretary@127.0.0.1:")  # her Contact: her phone, not the number again
            assert refer_to.split("?Replaces=")[1] == (f"{her_call_id.replace('@', '%40')}%3Bto-tag%3D{her_tag}"
                                                        f"%3Bfrom-tag%3D{bot_tag}")
            # her phone did not end our consultation call itself: the bot does, once the caller is with her
            _, stderr = await asyncio.wait_for(call.phone.communicate(), 30)
            assert call.phone.returncode == 0, stderr.decode()[-2000:] + call.secretary_errors()
            assert "BYE sip:secretary@" in call.secretary_log()
        else:
            assert await wait_for(lambda: any(d == "in" and s.startswith("SIP/2.0 501") for d, s in call.ua.log), 20)
            bridged = time.monotonic()
            await asyncio.sleep(1.0)
            await call.secretary.say(caller_ulaw("Keller and Wright, Anna speaking.", tmp_path, "anna"))
            assert await wait_for(lambda: music_during(call.caller, bridged + 1.0, time.monotonic()) > 1.0, 10), \
                "the caller did not hear the secretary through the bridge"
            spoke = time.monotonic()
            await call.caller.say(caller_ulaw("Hello Anna, this is Peter.", tmp_path, "peter"))
            assert await wait_for(lambda: music_during(call.secretary, spoke, time.monotonic()) > 1.0, 10), \
                "the secretary did not hear the caller through the bridge"
            _, stderr = await asyncio.wait_for(call.phone.communicate(), 60)  # she hangs up
            assert call.phone.returncode == 0, stderr.decode()[-2000:] + call.secretary_errors()
            _, stderr = await asyncio.wait_for(call.proc.communicate(), 30)  # so the bot ends the caller's call
            assert call.proc.returncode == 0, stderr.decode()[-2000:] + sipp_errors(tmp_path)
        assert await wait_for(lambda: call_row(call.settings, call.call_id)[0] == "transferred", 20), \
            call_row(call.settings, call.call_id)
        assert call_row(call.settings, call.call_id)[1] == call.profile.secretary_number
        assert not any("still there" in t.lower() for t in caller_texts(call.settings, call.call_id)), \
            "the bot listened to the caller on hold"
        assert "INVITE sip:" + call.profile.secretary_number in call.secretary_log()
    finally:
        await call.close()


async def test_the_secretary_declines_by_sip_info_and_the_caller_leaves_a_message(tmp_path: Path) -> None:
    call = WarmCall(tmp_path)
    try:
        await call.start("uac_call.xml", "uas_secretary_info.xml")
        await call.ask_for_a_person()
        _, stderr = await asyncio.wait_for(call.phone.communicate(), 60)  # INFO Signal=2, then the bot's BYE
        assert call.phone.returncode == 0, stderr.decode()[-2000:] + call.secretary_errors()
        assert await wait_for(lambda: call.secretary.quiet_for() > 0.5, 20)
        from bot.pipeline import registry

        heard = registry.whisper_engine(call.settings).transcribe(call.secretary.audio_since(0), languages=("en",))
        assert "message" in heard.text.lower(), heard.text  # "All right. The caller will leave a message."
        assert await wait_for(lambda: offered_message(bot_turns(call.settings,
                                                                                           call.call_id)), 30), \
            bot_turns(call.settings, call.call_id)
        offered = time.monotonic()
        assert await wait_for(lambda: call.caller.loud_seconds_since(offered - 1) > 1.0, 30)  # the caller hears it
        assert call.call_id in call.ua.dialogs and call_row(call.settings, call.call_id)[0] != "transferred"
    finally:
        await call.close()
    assert call.proc.returncode == 0, sipp_errors(tmp_path)  # the caller's call ended cleanly by the bot's BYE


@pytest.mark.parametrize("line", ["busy", "no-answer"])
async def test_a_busy_or_unanswered_secretary_line_returns_the_caller_to_the_bot(tmp_path: Path, line: str) -> None:
    call = WarmCall(tmp_path, dial_timeout_s=3)
    try:
        await call.start("uac_call.xml", "uas_busy.xml" if line == "busy" else "uas_ringing.xml")
        await call.ask_for_a_person()
        _, stderr = await asyncio.wait_for(call.phone.communicate(), 30)  # 486 + ACK, or 180, CANCEL, 487 + ACK
        assert call.phone.returncode == 0, stderr.decode()[-2000:] + call.secretary_errors()
        assert await wait_for(lambda: offered_message(bot_turns(call.settings,
                                                                                           call.call_id)), 30), \
            "\n".join(map(str, bot_turns(call.settings, call.call_id) + call.ua.log))
        if line == "no-answer":
            assert "CANCEL sip:" in call.secretary_log()
        assert call.secretary.loud_seconds_since(0) == 0  # no briefing to nobody
    finally:
        await call.close()


async def test_a_caller_who_hangs_up_on_hold_stops_the_secretarys_phone_ringing(tmp_path: Path) -> None:
    """The caller gives up while her phone rings: the bot CANCELs its INVITE (her phone stops) and ends cleanly."""
    scenario = tmp_path / "uac_hangup_on_hold.xml"
    # ACK + ~5 s greeting + the 0 + ~3 s "I'll put you through": she rings from ~10 s; the caller leaves at 18 s
    scenario.write_text((HERE / "uac_hangup_on_hold.xml").read_text().replace("[hangup_ms]", "18000"))
    call = WarmCall(tmp_path, dial_timeout_s=60)
    try:
        await call.start(str(scenario), "uas_ringing.xml")
        await call.ask_for_a_person()
        _, stderr = await asyncio.wait_for(call.proc.communicate(), 40)  # the caller's BYE, answered
        assert call.proc.returncode == 0, stderr.decode()[-2000:] + sipp_errors(tmp_path)
        _, stderr = await asyncio.wait_for(call.phone.communicate(), 20)  # CANCEL, 487, ACK
        assert call.phone.returncode == 0, stderr.decode()[-2000:] + call.secretary_errors()
        assert "CANCEL sip:" in call.secretary_log()
        assert await wait_for(lambda: not call.ua.consultations and call.call_id not in call.ua.dialogs, 10)
        assert call_row(call.settings, call.call_id)[0] != "transferred"
    finally:
        await call.close()
