"""The room client's modules against the protocol document: together they handle every message
the server sends, send only messages the server knows, and keep the core free of the DOM."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import ROOT

STATIC = ROOT / "static" / "rooms"
PROTOCOL = (ROOT / "rooms" / "PROTOCOL.md").read_text()
# Modules that must run without a page (a worker, a test harness, another UI).
DOM_FREE = ("connection.js", "mesh.js", "store.js")
FEATURES = ("stage", "lobby", "controls", "caucus", "chat", "recording", "devicecheck", "network")


def section(title: str) -> str:
    start = PROTOCOL.index(f"## {title}\n")
    end = PROTOCOL.find("\n## ", start + 1)
    return PROTOCOL[start : end if end != -1 else None]


def documented(title: str) -> set[str]:
    return set(re.findall(r"^### `([a-z-]+)`", section(title), re.MULTILINE))


def modules() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(STATIC.glob("*.js"))}


def handled() -> dict[str, set[str]]:
    """Server message type → the modules that register a callback for it."""
    found: dict[str, set[str]] = {}
    for name, source in modules().items():
        for type_ in re.findall(r'\.on\(\s*"([a-z-]+)"', source):
            found.setdefault(type_, set()).add(name)
    # Types registered in a loop over a literal list: `for (const type of ["a", "b"]) conn.on(type`
    loop = re.compile(r"for \(const type of \[([^\]]+)\]\)\s*\{?\s*conn\.on\(type")
    for name, source in modules().items():
        for listed in loop.findall(source):
            for type_ in re.findall(r'"([a-z-]+)"', listed):
                found.setdefault(type_, set()).add(name)
    return found


def sent() -> set[str]:
    """Message types the client sends (`send({type: "x"` and the socket's own join and ping)."""
    types: set[str] = set()
    for source in modules().values():
        types |= set(re.findall(r'send\(\{\s*type:\s*"([a-z-]+)"', source))
        types |= set(re.findall(r'JSON\.stringify\(\{\s*type:\s*"([a-z-]+)"', source))
    return types


def test_the_protocol_document_lists_server_messages() -> None:
    assert {"welcome", "signal", "error"} <= documented("Server → client")


def test_every_server_message_is_handled_by_some_module() -> None:
    missing = documented("Server → client") - set(handled())
    assert not missing, f"server messages no room module handles: {sorted(missing)}"


def test_modules_handle_no_undocumented_message() -> None:
    unknown = set(handled()) - documented("Server → client")
    assert not unknown, f"handlers for messages the protocol does not have: {sorted(unknown)}"


def test_the_client_sends_only_documented_messages() -> None:
    types = sent()
    assert {"join", "ping", "media", "chat", "move"} <= types
    unknown = types - documented("Client → server")
    assert not unknown, f"the client sends undocumented messages: {sorted(unknown)}"


def test_every_feature_is_a_module_that_installs_itself() -> None:
    room = (STATIC / "room.js").read_text()
    for feature in FEATURES:
        source = (STATIC / f"{feature}.js").read_text()
        assert "export function install(room)" in source, feature
        assert f'import * as {feature} from "./{feature}.js";' in room, feature


def test_modules_are_type_checked_and_the_core_has_no_dom() -> None:
    for name, source in modules().items():
        assert source.startswith("// @ts-check\n"), f"{name} lacks // @ts-check"
    for name in DOM_FREE:
        source = (STATIC / name).read_text()
        for word in ("document.", "window.", "HTMLElement", "querySelector"):
            assert word not in source, f"{name} touches the DOM ({word})"


def test_modules_import_only_existing_modules() -> None:
    for name, source in modules().items():
        for target in re.findall(r'from "\./([a-z]+\.js)"', source):
            assert Path(STATIC / target).exists(), f"{name} imports missing {target}"


def test_the_page_preloads_every_module_room_js_imports() -> None:
    """Without the preload list the browser finds each import only after fetching its importer."""
    page = (ROOT / "templates" / "rooms" / "room.html").read_text()
    preloaded = set(re.findall(r'rel="modulepreload" href="/static/rooms/([a-z]+\.js)"', page))
    needed, pending = {"room.js"}, ["room.js"]
    while pending:
        for target in re.findall(r'from "\./([a-z]+\.js)"', (STATIC / pending.pop()).read_text()):
            if target not in needed:
                needed.add(target)
                pending.append(target)
    assert preloaded == needed
