"""Tested documentation and catalogue: PROTOCOL.md covers the code; zh_CN covers every msgid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po

from app.settings import Settings
from rooms import audience, policy, protocol, services
from rooms.commands import COMMANDS as HANDLERS
from rooms.views import js_strings

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "rooms" / "PROTOCOL.md").read_text()


def test_dispatch_table_is_the_documented_client_types():
    assert set(HANDLERS) == set(protocol.CLIENT_TYPES)


def test_every_message_type_is_documented():
    documented = set(re.findall(r"^### `([a-z-]+)`$", PROTOCOL, re.M))
    handled = set(HANDLERS) | set(protocol.SERVER_TYPES)
    assert handled - documented == set(), "undocumented message types"
    assert documented - handled == set(), "documented types the code does not know"


def test_every_error_and_close_code_is_documented():
    for code in protocol.ERROR_MESSAGES:
        assert f"| `{code}` |" in PROTOCOL, code
    for number in protocol.CLOSE_CODES.values():
        assert f"| {number} |" in PROTOCOL, number


def test_sub_room_names_are_documented_with_the_validators_pattern():
    assert f"ASCII `{policy.SUBROOM_PATTERN}`" in PROTOCOL


def test_waiting_reasons_and_host_roles_are_documented():
    for reason in (audience.LOBBY, audience.NO_HOST):
        assert f'"{reason}"' in PROTOCOL, reason
    for role in policy.HOST_ROLES:
        assert f"`{role}`" in PROTOCOL.split("## Hosts", 1)[1].split("##", 1)[0], role


def test_outgoing_refuses_undocumented_types():
    try:
        protocol.outgoing("surprise")
    except ValueError:
        return
    raise AssertionError("outgoing() let an undocumented type through")


def _catalogue() -> dict[str, str]:
    with (ROOT / "rooms" / "translations" / "zh_CN.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle, locale="zh_CN") if m.id}


def _template_msgids() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "templates" / "rooms").glob("*.html"):
        found |= set(re.findall(r'_\(\s*"((?:[^"\\]|\\.)*)"\s*\)', path.read_text()))
        found |= set(re.findall(r"_\(\s*'((?:[^'\\]|\\.)*)'\s*\)", path.read_text()))
    return found


def test_every_msgid_is_translated():
    catalogue = _catalogue()
    python = set(re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', (ROOT / "rooms" / "views.py").read_text()))
    raised = set()
    for path in (ROOT / "rooms").glob("*.py"):
        raised |= set(
            re.findall(
                r'(?:NotAuthenticated|PermissionDenied|NotFound|UserError)\("([^"]+)"\)',
                path.read_text(),
            )
        )
    wanted = (
        _template_msgids() | python | set(protocol.ERROR_MESSAGES.values()) | {"event:room_opened"}
    )
    assert len(python) >= len(js_strings())
    missing = sorted(m for m in wanted if not catalogue.get(m))
    assert missing == []


def test_turn_credentials_follow_the_coturn_rest_scheme():
    settings = Settings(
        stun_urls=("stun:stun.example:3478",), turn_url="turn:turn.example:3478", turn_secret="s3"
    )
    now = datetime(2026, 11, 22, tzinfo=UTC)
    stun, turn = services.ice_servers(settings, "party:7", now)
    assert stun == {"urls": ["stun:stun.example:3478"]}
    expiry, who = turn["username"].split(":", 1)
    assert who == "party:7" and int(expiry) == int(now.timestamp()) + services.TURN_TTL_SECONDS
    expected = hmac.new(b"s3", turn["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected
    assert services.ice_servers(Settings(), "party:7", now) == []
