"""TURN: coturn started on loopback with a temporary configuration; two aiortc peers connect
relay-only with the time-limited credentials the app's `welcome` hands out. The documented
configuration (docs/coturn.md) keeps its required lines, and coturn running it refuses to relay
to a loopback peer. The test command installs coturn (Makefile TEST_DEBS)."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection

from app.factory import create_app
from app.settings import Settings
from rooms.services import ice_servers
from tests.rooms.conftest import open_socket
from tests.rooms.peers import Peer, ice_configuration

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "coturn.md").read_text()
DOCUMENTED = re.search(r"```ini\n(.*?)```", DOC, re.S).group(1)  # type: ignore[union-attr]
# Lines of the documented file that a test run replaces (it listens on loopback, without TLS).
LOCAL = re.compile(
    r"^(listening-port|tls-listening-port|realm|cert|pkey|min-port|max-port|"
    r"static-auth-secret|log-file)="
)
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
pytestmark = pytest.mark.skipif(
    not Path(TURNSERVER).exists(), reason="coturn is not installed (make test installs it)"
)


@dataclass(frozen=True)
class Turn:
    url: str
    secret: str


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_coturn(tmp: Path, lines: list[str]) -> Iterator[Turn]:
    port, secret = free_udp_port(), secrets.token_hex(16)
    relay = 20000 + port % 20000  # a relay port range of its own per run
    local = [
        "listening-ip=127.0.0.1",
        "relay-ip=127.0.0.1",
        f"listening-port={port}",
        f"min-port={relay}",
        f"max-port={relay + 50}",
        f"static-auth-secret={secret}",
        "realm=test.local",
        "no-tls",
        "no-dtls",
        f"pidfile={tmp / 'turn.pid'}",
        f"userdb={tmp / 'turndb'}",
        f"log-file={tmp / 'turn.log'}",
        "simple-log",
    ]
    conf = tmp / "turnserver.conf"
    conf.write_text("\n".join([*lines, *local]) + "\n")
    process = subprocess.Popen(
        [TURNSERVER, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(tmp / "turn.log")
        yield Turn(f"turn:127.0.0.1:{port}?transport=udp", secret)
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_listening(log: Path, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if log.exists() and "turn server id=" in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"coturn did not start: {log.read_text() if log.exists() else ''}")


def documented_lines() -> list[str]:
    lines = [line.strip() for line in DOCUMENTED.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not LOCAL.match(line)]


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[Turn]:
    # The documented relay rules, except that this test's peers live on loopback.
    rules = [r for r in documented_lines() if not r.startswith("denied-peer-ip=127.")]
    yield from start_coturn(tmp_path, [*rules, "allow-loopback-peers"])


@pytest.fixture
def app(settings: Settings, turn: Turn) -> web.Application:
    return create_app(replace(settings, turn_url=turn.url, turn_secret=turn.secret))


def test_the_documented_configuration_denies_private_and_loopback_relays():
    lines = documented_lines()
    for required in ("use-auth-secret", "no-multicast-peers", "fingerprint"):
        assert required in lines, required
    for denied in (
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "127.0.0.0-127.255.255.255",
        "169.254.0.0-169.254.255.255",
        "::1",
    ):
        assert f"denied-peer-ip={denied}" in lines, denied
    assert "allow-loopback-peers" not in lines


async def test_two_peers_connect_relay_only_with_the_apps_credentials(mediator, applicant, room):
    med = Peer(await open_socket(mediator, room), relay_only=True)
    await med.send(type="join")
    welcome = await med.expect("welcome")
    (server,) = welcome["iceServers"]
    assert server["username"].split(":", 1)[1].startswith("staff:")  # expiry:principal
    party = Peer(await open_socket(applicant, room), relay_only=True)
    await party.send(type="join")
    await party.expect("welcome")
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    await party.connected(med.you["id"], within=20)
    await med.connected(party.you["id"], within=20)
    for member, other in ((med, party.you["id"]), (party, med.you["id"])):
        sdp = member.pcs[other].localDescription.sdp
        candidates = [line for line in sdp.splitlines() if line.startswith("a=candidate")]
        assert candidates and all(" typ relay" in c for c in candidates), candidates
    await med.close()
    await party.close()


async def test_the_documented_configuration_refuses_a_loopback_peer(tmp_path: Path):
    for turn in start_coturn(tmp_path, documented_lines()):
        servers = ice_servers(
            Settings(turn_url=turn.url, turn_secret=turn.secret), "party:1", datetime.now(UTC)
        )
        config = ice_configuration(servers, relay_only=True)
        one, two = RTCPeerConnection(config), RTCPeerConnection(config)
        one.createDataChannel("probe")
        await one.setLocalDescription(await one.createOffer())
        assert " typ relay" in one.localDescription.sdp  # the allocation itself is allowed
        await two.setRemoteDescription(one.localDescription)
        await two.setLocalDescription(await two.createAnswer())
        await one.setRemoteDescription(two.localDescription)
        await asyncio.sleep(6)
        assert "connected" not in (one.connectionState, two.connectionState)
        await one.close()
        await two.close()
