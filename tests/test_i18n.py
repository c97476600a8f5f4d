"""Every message id used in code or templates has a zh_CN translation (no hard-coded UI text
slips through untranslated), and the catalogues load."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract

from app.i18n import PACKAGES, load_catalogues
from app.settings import ROOT

ERROR_CLASSES = (
    "UserError",
    "NotFound",
    "Conflict",
    "PermissionDenied",
    "NotAuthenticated",
    "Gone",
    "DomainError",
)
PY_KEYWORDS = {name: None for name in ("_", "gettext", "N_", "translate", *ERROR_CLASSES)}
PY_KEYWORDS["ngettext"] = (1, 2)  # type: ignore[assignment]
PY_KEYWORDS["notify_parties"] = (3,)  # type: ignore[assignment]  # (db, case, message, ...)
JINJA_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _messages(path: Path, method: str, keywords: dict[str, object]) -> set[str]:
    found: set[str] = set()
    with path.open("rb") as handle:
        for _line, message, _comments, _context in extract(method, handle, keywords=keywords):
            found.update(m for m in (message if isinstance(message, tuple) else (message,)) if m)
    return found


def used_message_ids() -> dict[str, set[str]]:
    """msgid → the files that use it."""
    where: dict[str, set[str]] = {}
    sources: list[tuple[Path, str, dict[str, object]]] = []
    for package in PACKAGES:
        sources += [
            (p, "python", PY_KEYWORDS)
            for p in (ROOT / package).rglob("*.py")
            if "migrations" not in p.parts
        ]
    sources += [
        (p, "jinja2.ext:babel_extract", JINJA_KEYWORDS)
        for p in (ROOT / "templates").rglob("*.html")
    ]
    for path, method, keywords in sources:
        for message in _messages(path, method, keywords):
            where.setdefault(message, set()).add(str(path.relative_to(ROOT)))
    return where


def test_every_message_has_a_chinese_translation() -> None:
    zh = load_catalogues()["zh_CN"]
    missing = {m: sorted(files) for m, files in used_message_ids().items() if m not in zh}
    assert not missing, "untranslated message ids:\n" + "\n".join(
        f"  {m!r}  ({', '.join(files)})" for m, files in sorted(missing.items())
    )


def test_extraction_finds_known_messages() -> None:
    used = used_message_ids()
    assert "Staff login" in used  # a template
    assert "Please log in first." in used  # an error raised in code
    assert "Applied" in used  # a label marked with N_
