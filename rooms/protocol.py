"""The wire protocol (documented in rooms/PROTOCOL.md): message types, input validation,
bilingual errors. Pure: no sockets, no database."""

from __future__ import annotations

from typing import Any

import orjson

from app.forms import MAX_ID, strict_json
from app.i18n import LOCALES, translate

# Client → server. The signaling actor's dispatch table has exactly these keys (tested).
JOIN = "join"
CLIENT_TYPES = (
    "join",
    "signal",
    "admit",
    "remove",
    "move",
    "lock",
    "unlock",
    "leave",
    "ping",
    "media",
    "quality",
    "hand",
    "ask",
    "mute",
    "call-host",
    "chat",
    "consent",
    "record",
    "end",
)

# Server → client. `outgoing()` refuses any other type, so the list is complete (tested).
SERVER_TYPES = (
    "welcome",
    "waiting",
    "admitted",
    "moved",
    "lobby",
    "member-joined",
    "member-left",
    "room-state",
    "signal",
    "removed",
    "pong",
    "error",
    "member-updated",
    "asked",
    "muted",
    "host-called",
    "chat",
    "recording",
    "ended",
)

# Error code → English message id (Chinese in rooms/translations/zh_CN.po).
ERROR_MESSAGES = {
    "not-authenticated": "Please log in or open your invitation link again.",
    "not-found": "This room does not exist or you may not enter it.",
    "not-allowed": "Only the mediator may do this.",
    "invalid-json": "The message could not be read.",
    "invalid-message": "The message is not valid.",
    "unknown-type": "This kind of message is not known.",
    "join-first": "Please join the room first.",
    "join-timeout": "Joining took too long. Please try again.",
    "already-joined": "You have already joined the room.",
    "not-admitted": "You are not in the room yet. Please wait for the mediator.",
    "no-such-member": "That person is not in this room.",
    "not-reachable": "That person cannot be reached from here.",
    "already-admitted": "That person is already in the room.",
    "room-closed": "This room has been closed.",
    "rate-limited": "Too many messages. Please slow down.",
    "too-slow": "The connection is too slow; it was closed. Reconnecting…",
    "replaced": "You joined this room in another window.",
    "removed": "The mediator has asked you to leave the room.",
    "server-error": "Something went wrong on our side. Please try again later.",
    "no-consent": "Recording needs the consent of everyone in the joint session.",
    "not-open-yet": "The room is not open yet. Please come back shortly before your appointment.",
    "too-long": "The message is too long.",
}

# WebSocket close codes (4000–4999 are the application's); the browser reconnects only after
# codes not listed in FINAL_CLOSE_CODES.
CLOSE_CODES = {
    "not-authenticated": 4401,
    "not-found": 4404,
    "join-timeout": 4408,
    "room-closed": 4410,
    "replaced": 4409,
    "removed": 4403,
    "too-slow": 4429,
    "left": 4000,
    "ended": 4411,
    "not-open-yet": 4425,
}
FINAL_CLOSE_CODES = (4401, 4404, 4410, 4409, 4403, 4000, 4411, 4425)

SDP_TYPES = ("offer", "answer", "rollback")
MAX_SDP = 60_000
MAX_CANDIDATE = 1_000


class ProtocolError(Exception):
    """A message the server refuses; `code` is a key of ERROR_MESSAGES."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def error(
    code: str, about: str | None = None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    msgid = ERROR_MESSAGES[code]
    body: dict[str, Any] = {
        "type": "error",
        "code": code,
        "message": {locale: translate(msgid, locale) for locale in LOCALES},
    }
    if about is not None:
        body["about"] = about
    if data is not None:
        body["data"] = data
    return body


def outgoing(type_: str, **fields: Any) -> dict[str, Any]:
    if type_ not in SERVER_TYPES:
        raise ValueError(f"undocumented server message type {type_!r}")
    return {"type": type_, **fields}


def encode(message: dict[str, Any]) -> str:
    """The one serialisation of a message: fan-out sends this same string to every recipient.
    Compact, UTF-8 (no ASCII escapes); orjson, about 15 times faster than the json module's."""
    return orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS).decode()


def parse(text: str) -> dict[str, Any]:
    """A client message as a dict with a known `type`, or ProtocolError."""
    try:
        data = strict_json(text)
    except (ValueError, RecursionError) as exc:  # bad JSON, duplicate keys, deep nesting
        raise ProtocolError("invalid-json") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("invalid-message")
    if data["type"] not in CLIENT_TYPES:
        raise ProtocolError("unknown-type")
    return data


def member_id(data: dict[str, Any], field: str = "member") -> int:
    value = data.get(field)
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise ProtocolError("invalid-message")
    return value


def signal_payload(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a `signal` that is relayed, rebuilt field by field: nothing the client adds
    (a `from`, an identity, anything else) travels on."""
    description, candidate = data.get("description"), data.get("candidate")
    if (description is None) == (candidate is None):
        raise ProtocolError("invalid-message")
    if description is not None:
        if (
            not isinstance(description, dict)
            or description.get("type") not in SDP_TYPES
            or not isinstance(description.get("sdp", ""), str)
            or len(description.get("sdp", "")) > MAX_SDP
        ):
            raise ProtocolError("invalid-message")
        return {"description": {"type": description["type"], "sdp": description.get("sdp", "")}}
    if not isinstance(candidate, dict):
        raise ProtocolError("invalid-message")
    text, mid, index = (
        candidate.get("candidate"),
        candidate.get("sdpMid"),
        candidate.get("sdpMLineIndex"),
    )
    ufrag = candidate.get("usernameFragment")
    if (
        not isinstance(text, str)
        or len(text) > MAX_CANDIDATE
        or not (mid is None or (isinstance(mid, str) and len(mid) <= 64))
        or not (index is None or (type(index) is int and 0 <= index < 1024))
        or not (ufrag is None or (isinstance(ufrag, str) and len(ufrag) <= 256))
    ):
        raise ProtocolError("invalid-message")
    return {
        "candidate": {
            "candidate": text,
            "sdpMid": mid,
            "sdpMLineIndex": index,
            "usernameFragment": ufrag,
        }
    }
