"""REGISTER with digest authentication against SIPp acting as the registrar, over UDP and over TCP, through
`receptionist sip check`'s code: the right password registers (401 -> answer -> 200, then un-registers), a wrong
one fails with an error that names the registrar and the settings to check."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.runtime.resolver import StaticResolver
from bot.settings import Settings
from bot.telephony.sip.check import check_sip
from tests.conftest import free_port

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(shutil.which("sipp") is None,
                                reason="SIPp is not installed (Debian package sip-tester; `make install` adds it)")
USER, PASSWORD = "4930555501200", "s3cret-trunk-password"


async def registrar(transport: str, tmp: Path):
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(HERE / "registrar.xml"), "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-t", transport,
        "-key", "user", USER, "-key", "password", PASSWORD, "-nostdin", "-timeout", "30s", "-trace_msg",
        "-message_file", str(tmp / "registrar.log"), "-mp", str(free_port()),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=tmp)
    await _bound(port, "udp" if transport.startswith("u") else "tcp")
    return proc, port


async def _bound(port: int, proto: str, timeout_s: float = 5.0) -> None:
    """Wait until SIPp has bound its port (read from /proc/net), instead of a fixed sleep."""
    wanted = f":{port:04X} "
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        for table in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
            try:
                rows = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            if any(wanted in row.split()[1] + " " for row in rows if len(row.split()) > 1):
                return
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("password", [PASSWORD, "wrong-password"])
async def test_register_with_digest_auth(tmp_path: Path, transport: str, password: str) -> None:
    proc, port = await registrar("u1" if transport == "udp" else "t1", tmp_path)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", sip_enabled=True, sip_listen="127.0.0.1",
                        sip_port=0, sip_transport=transport, sip_registrar=f"127.0.0.1:{port}", sip_domain="loopback.test",
                        sip_user=USER, sip_password=password)
    try:
        result = await check_sip(settings, StaticResolver([]), timeout_s=5)
        await asyncio.wait_for(proc.wait(), 20)
        log = (tmp_path / "registrar.log").read_text(errors="replace")
        assert 'Authorization: Digest username="4930555501200", realm="loopback.test"' in log
        assert f"SIP/2.0/{transport.upper()}" in log
        if password == PASSWORD:
            assert result.ok, result.problems
            assert result.registered == f"{USER}@127.0.0.1:{port} ({transport.upper()})"
            assert "Expires: 0" in log  # the check leaves no registration behind
            assert proc.returncode == 0
        else:
            assert not result.ok and result.registered is None
            (problem,) = result.problems
            assert f"registrar 127.0.0.1:{port} ({transport.upper()}) rejected user '{USER}'" in problem
            assert "403 Forbidden" in problem and "RECEPTIONIST_SIP_PASSWORD" in problem
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
