"""Every message booking shows or sends has a zh_CN translation with the same placeholders.

Besides what babel extracts (translation calls, N_, typed errors), this also finds message ids
that were not marked: strings assigned to `errors[...]`, given to ValidationFailed, or held in
module constants, so an unmarked message cannot slip through untranslated."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from app.i18n import load_catalogues
from app.settings import ROOT

# Calls whose first argument is a message id (translation functions and typed errors).
MESSAGE_CALLS = {
    "_",
    "gettext",
    "ngettext",
    "translate",
    "UserError",
    "ValidationFailed",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "NotAuthenticated",
    "Gone",
    "IdempotencyKeyReused",
    "N_",
}


def _literal(node: ast.expr) -> object:
    """A string constant, also when wrapped in N_("...")."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_" and node.args:
        node = node.args[0]
    return node.value if isinstance(node, ast.Constant) else None


def _python_msgids(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in MESSAGE_CALLS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
                if isinstance(first, ast.Dict):  # ValidationFailed({"field": "message"})
                    found |= {v for v in map(_literal, first.values) if isinstance(v, str)}
        elif isinstance(node, ast.Assign):
            target, value = node.targets[0], _literal(node.value)
            if not isinstance(value, str):
                continue
            if isinstance(target, ast.Subscript) and getattr(target.value, "id", "") == "errors":
                found.add(value)  # errors["field"] = "message"
            elif isinstance(target, ast.Name) and target.id.isupper() and " " in value:
                found.add(value)  # module constants holding messages (TAKEN, BAD_DATE, ...)
    return found


def _template_msgids(path: Path) -> set[str]:
    found: set[str] = set()
    with path.open("rb") as handle:
        for _line, _func, message, _comments in babel_extract(handle, ("_", "gettext"), [], {}):
            if isinstance(message, str):
                found.add(message)
    return found


def used_msgids() -> set[str]:
    sources = [ROOT / "app" / "idempotency.py", *sorted((ROOT / "booking").glob("*.py"))]
    found = set().union(*(_python_msgids(p) for p in sources))
    for template in sorted((ROOT / "templates" / "booking").glob("*.html")):
        found |= _template_msgids(template)
    return found


def merged_zh() -> dict[str, str]:
    """What the app will use: every package's catalogue (booking's pages reuse kernel labels)."""
    return load_catalogues()["zh_CN"]


def catalogue() -> dict[str, str]:
    with (ROOT / "booking" / "translations" / "zh_CN.po").open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    return {str(m.id): str(m.string) for m in catalog if m.id and not m.fuzzy}


def placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_booking_message_is_translated():
    translations = merged_zh()
    used = used_msgids()
    assert len(used) > 80  # the extractor is finding the messages
    missing = sorted(m for m in used if not translations.get(m))
    assert missing == []


def test_translations_keep_the_placeholders():
    for msgid, msgstr in catalogue().items():
        assert placeholders(msgid) == placeholders(msgstr), msgid
