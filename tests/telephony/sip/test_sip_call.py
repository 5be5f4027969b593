"""A real SIP call on loopback: SIPp (Debian's sip-tester) dials the bot's SIP user agent, the caller's RTP is a
Python socket at the port SIPp's INVITE offers. The app's own call services carry it (store, brain, knowledge base,
voice pipeline): the caller hears the greeting, asks a question as paced 8 kHz µ-law RTP, hears the FAQ answer
(checked by transcribing the bot's RTP with the product's recogniser), presses 0 as RFC 4733 events, and in office
hours the bot hands the call on by REFER to the secretary's number (SIPp checks the Refer-To, answers 202 and a
NOTIFY "200 OK"; the bot then sends BYE). Out of office hours, the callback number keyed on the phone reaches
message taking."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from bot.brain.profile import parse_office_hours
from bot.runtime.resolver import StaticResolver
from bot.settings import Settings
from tests.conftest import free_port
from tests.support.caller_audio import caller_ulaw
from tests.support.telephony_harness import wait_for
from tests.telephony.sip.sip_caller import CallerMedia

HERE = Path(__file__).parent
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("sipp") is None,
                                 reason="SIPp is not installed (Debian package sip-tester; `make install` adds it)")]


def bot_turns(settings: Settings, call_id: str) -> list[tuple[str, str, str | None]]:
    con = sqlite3.connect(settings.resolved_data_dir / "receptionist.db")
    try:
        return con.execute("SELECT t.intent, t.text, t.entry_question FROM call_turns t JOIN calls c ON c.id = t.call_id"
                           " WHERE c.call_sid = ? AND t.speaker = 'bot' ORDER BY t.seq", (call_id,)).fetchall()
    finally:
        con.close()


async def sipp(scenario: str, port: int, tmp: Path, *keys: tuple[str, str], transport: str = "u1"):
    args = ["sipp", f"127.0.0.1:{port}", "-sf", str(HERE / scenario), "-m", "1", "-i", "127.0.0.1",
            "-p", str(free_port()), "-t", transport, "-timeout", "240s", "-nostdin", "-trace_msg",
            "-message_file", str(tmp / "sipp_messages.log"), "-trace_err", "-error_file", str(tmp / "sipp_errors.log"),
            "-mp", str(free_port())]
    for name, value in keys:
        args += ["-key", name, value]
    return await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE, cwd=tmp)


def sipp_errors(tmp: Path) -> str:
    path = tmp / "sipp_errors.log"
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def closed(profile):
    return dataclasses.replace(profile, office_hours=())


def always_open(profile):
    return dataclasses.replace(profile, office_hours=parse_office_hours("mon-sun 00:00-23:59"), bundesland=None)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sip_call_answers_the_faq_and_transfers_by_refer(tmp_path: Path, transport: str) -> None:
    from bot.pipeline import registry
    from bot.runtime.documents import seed_demo_documents
    from bot.runtime.live_calls import call_services
    from bot.store import repo
    from bot.store.db import init_db, session_scope
    from bot.store.seed import seed_companies
    from bot.telephony.sip.ua import SipUserAgent

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", sip_listen="127.0.0.1", sip_port=0,
                        sip_transport=transport)
    init_db(settings)
    seed_companies(settings)
    assert seed_demo_documents(settings)["keller-wright"] >= 3
    with session_scope(settings) as db:
        profile = always_open(repo.company_profile(repo.get_company(db, "keller-wright")))
    services = call_services(settings)
    services.resolver = StaticResolver([profile])  # the same company, in office hours whenever the test runs
    ua = SipUserAgent(settings, services)
    await ua.start()
    loop = asyncio.get_running_loop()
    _, media = await loop.create_datagram_endpoint(CallerMedia, local_addr=("127.0.0.1", 0))
    proc = await sipp("uac_call.xml", ua.port, tmp_path, ("number", profile.phone_numbers[0]),
                      ("mport", str(media.port)), ("caller", "+4917612345678"),
                      transport="u1" if transport == "udp" else "t1")
    try:
        await wait_for(lambda: media.loud_seconds_since(0) > 0.5 or proc.returncode is not None, 120)
        assert media.loud_seconds_since(0) > 0.5, ("no greeting as RTP", ua.log, sipp_errors(tmp_path))
        call_id = next(iter(ua.dialogs))
        assert ua.dialogs[call_id].peer.transport == transport
        media.start()  # symmetric RTP: the caller sends to where the bot's packets come from
        assert await wait_for(lambda: len(bot_turns(settings, call_id)) >= 1, 30)
        assert await wait_for(lambda: media.quiet_for() > 1.0, 30), "the greeting did not end"
        asked = time.monotonic()
        await media.say(caller_ulaw("What are your office hours?", tmp_path, "hours"))

        def answered() -> bool:
            return any(i == "faq" for i, _, _ in bot_turns(settings, call_id))

        assert await wait_for(answered, 90), bot_turns(settings, call_id)
        intent, text, entry = next(t for t in bot_turns(settings, call_id) if t[0] == "faq")
        assert "hours" in entry.lower() and "Monday" in text  # the firm's own answer
        assert await wait_for(lambda: media.loud_seconds_since(asked) > 1.0, 60), "no spoken FAQ answer"
        assert await wait_for(lambda: media.quiet_for() > 1.2, 60)
        heard = registry.whisper_engine(settings).transcribe(media.audio_since(asked), languages=("en",))
        assert "monday" in heard.text.lower(), heard.text  # what the caller heard over RTP is the answer

        await media.press("0")
        _, stderr = await asyncio.wait_for(proc.communicate(), 90)  # REFER, 202, NOTIFY 200, the bot's BYE
        log = (tmp_path / "sipp_messages.log").read_text(errors="replace")
        assert proc.returncode == 0, stderr.decode()[-2000:] + log[-3000:]
        refer = log[log.index("REFER sip:"):]
        assert f"Refer-To: <sip:{profile.secretary_number}@" in refer
        assert "BYE sip:" in refer  # the bot left the call once the secretary answered
        assert "m=audio" in log and "RTP/AVP 0 101" in log and "telephone-event/8000" in log
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        media.close()
        await ua.stop()


async def test_sip_call_out_of_hours_takes_a_keyed_callback_number(tmp_path: Path) -> None:
    """Outside office hours key 0 starts a message; the caller (no caller ID: anonymous) says their name and keys
    the callback number as RFC 4733 events, finished with #; the bot reads it back. Our side then ends the call
    (BYE), which SIPp answers."""
    from bot.brain.numbers import speak_digits, to_e164
    from bot.runtime.documents import seed_demo_documents
    from bot.runtime.live_calls import call_services
    from bot.store import repo
    from bot.store.db import init_db, session_scope
    from bot.store.seed import seed_companies
    from bot.telephony.sip.ua import SipUserAgent

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", sip_listen="127.0.0.1", sip_port=0,
                        sip_transport="udp")
    init_db(settings)
    seed_companies(settings)
    seed_demo_documents(settings)
    with session_scope(settings) as db:
        profile = closed(repo.company_profile(repo.get_company(db, "keller-wright")))
    services = call_services(settings)
    services.resolver = StaticResolver([profile])
    ua = SipUserAgent(settings, services)
    await ua.start()
    loop = asyncio.get_running_loop()
    _, media = await loop.create_datagram_endpoint(CallerMedia, local_addr=("127.0.0.1", 0))
    proc = await sipp("uac_call.xml", ua.port, tmp_path, ("number", profile.phone_numbers[0]),
                      ("mport", str(media.port)), ("caller", "anonymous"))
    try:
        await wait_for(lambda: media.loud_seconds_since(0) > 0.5 or proc.returncode is not None, 120)
        assert media.loud_seconds_since(0) > 0.5, ("no greeting as RTP", ua.log, sipp_errors(tmp_path))
        call_id = next(iter(ua.dialogs))
        media.start()
        assert await wait_for(lambda: len(bot_turns(settings, call_id)) >= 1, 30)
        assert await wait_for(lambda: media.quiet_for() > 1.0, 30)
        await media.press("0")

        def asked(word: str) -> bool:
            return any(word in t.lower() for _, t, _ in bot_turns(settings, call_id)[1:])

        assert await wait_for(lambda: asked("name"), 60), bot_turns(settings, call_id)
        assert await wait_for(lambda: media.quiet_for() > 1.0, 30)
        await media.say(caller_ulaw("My name is Anna Schmidt.", tmp_path, "name"))
        assert await wait_for(lambda: asked("call you back"), 60), bot_turns(settings, call_id)
        assert await wait_for(lambda: media.quiet_for() > 1.0, 30)
        await media.press("01761234567#", gap_s=0.15)
        read_back = speak_digits(to_e164("01761234567", "DE"), "en", "DE")
        keyed = ua.dialogs[call_id].transport
        assert await wait_for(lambda: asked("read that back"), 60), f"{bot_turns(settings, call_id)}"
        assert keyed.digits_received == "0" + "01761234567#"  # every RFC 4733 event once
        turn = next(t for _, t, _ in bot_turns(settings, call_id) if "read that back" in t.lower())
        assert read_back in turn, (read_back, turn)
        # (the synthetic caller's name itself is not checked: espeak-ng's "Anna Schmidt" is heard as another name)
        await ua.stop()  # the bot's side ends the call: BYE, answered by SIPp
        await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode == 0, sipp_errors(tmp_path)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        media.close()
        await ua.stop()


async def test_a_refer_nobody_answers_leaves_the_caller_with_the_bot_for_a_message(tmp_path: Path) -> None:
    """In office hours key 0 transfers by REFER; the NOTIFY says 480 (nobody answered): the call stays up and the
    bot takes a message instead, as after Twilio's no-answer."""
    from bot.runtime.documents import seed_demo_documents
    from bot.runtime.live_calls import call_services
    from bot.store import repo
    from bot.store.db import init_db, session_scope
    from bot.store.seed import seed_companies
    from bot.telephony.sip.ua import SipUserAgent

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", sip_listen="127.0.0.1", sip_port=0,
                        sip_transport="udp")
    init_db(settings)
    seed_companies(settings)
    seed_demo_documents(settings)
    with session_scope(settings) as db:
        profile = always_open(repo.company_profile(repo.get_company(db, "keller-wright")))
    services = call_services(settings)
    services.resolver = StaticResolver([profile])
    ua = SipUserAgent(settings, services)
    await ua.start()
    loop = asyncio.get_running_loop()
    _, media = await loop.create_datagram_endpoint(CallerMedia, local_addr=("127.0.0.1", 0))
    proc = await sipp("uac_refer_noanswer.xml", ua.port, tmp_path, ("number", profile.phone_numbers[0]),
                      ("mport", str(media.port)), ("caller", "+4917612345678"))
    try:
        await wait_for(lambda: media.loud_seconds_since(0) > 0.5 or proc.returncode is not None, 120)
        assert media.loud_seconds_since(0) > 0.5, ("no greeting as RTP", ua.log, sipp_errors(tmp_path))
        call_id = next(iter(ua.dialogs))
        media.start()
        assert await wait_for(lambda: len(bot_turns(settings, call_id)) >= 1, 30)
        assert await wait_for(lambda: media.quiet_for() > 1.0, 30)
        await media.press("0")
        assert await wait_for(lambda: ("out", "SIP/2.0 200 OK") in ua.log and any(
            start.startswith("NOTIFY") for way, start in ua.log if way == "in"), 60), ua.log
        after = time.monotonic()

        def message_started() -> bool:
            return any("name" in t.lower() for _, t, _ in bot_turns(settings, call_id)[2:])

        assert await wait_for(message_started, 60), f"{bot_turns(settings, call_id)}"
        assert await wait_for(lambda: media.loud_seconds_since(after) > 1.0, 30), "the caller heard nothing"
        assert call_id in ua.dialogs and not ua.dialogs[call_id].ended  # still on the line with the bot
        await ua.stop()
        await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode == 0, sipp_errors(tmp_path)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        media.close()
        await ua.stop()
