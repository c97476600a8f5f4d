"""Versioned, admin-edited templates per document kind and dispute type.

An edit inserts the next version; old versions are never updated, and every document records the
version that produced it. Lookup: the newest version for the case's dispute type, else the
newest default ("" dispute type), else the built-in wording (version 0, template_defaults.py).

Admin-authored text is rendered by jinja2's immutable sandbox with plain strings only, and
checked when saved: only placeholders of the kind (`{{ reason }}`) and `{% if %}` on them are
accepted, so a template can neither reach Python objects nor compute anything.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin import require_admin
from app.auth import Principal
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.i18n import N_
from app.labels import LABELS
from app.models import Organization
from app.printable import UNPRINTABLE, unprintable
from documents.models import DocumentTemplate
from documents.template_defaults import DEFAULTS, KINDS, PLACEHOLDERS, Wording

TITLE_MAX, BODY_MAX = 60, 20_000
NO_KIND = N_("There is no such kind of document.")
BAD_TITLE = N_("Please give a title of 1 to 60 characters.")
BAD_BODY = N_("Please write the text (1 to 20000 characters).")
BAD_SYNTAX = N_("The template cannot be read: check that every {{ and {% is closed.")
UNKNOWN_PLACEHOLDER = N_("The text uses a placeholder that does not exist. Use only those listed.")
NOT_A_PLACEHOLDER = N_(
    "Only placeholders such as {{ case_number }} and {% if … %} blocks on them are allowed."
)
TOP_ADMIN_ONLY = N_(
    "Only an administrator of a top-level organisation may change document templates."
)
SAVED_MEANWHILE = N_("Someone saved this template meanwhile. Please reload it and edit again.")
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.If,
    nodes.Not,
)


@dataclass(frozen=True)
class Chosen:
    """The template a new document is made from."""

    template_id: int | None
    version: int  # 0: the built-in wording
    wording: Wording


@functools.cache
def _sandbox() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(NO_KIND)
    return kind


def check_dispute_type(value: str) -> str:
    if value and value not in LABELS["dispute"]:
        raise NotFound(NO_KIND)
    return value


def _text_errors(text: str, limit: int, message: str) -> str | None:
    if not text.strip() or len(text) > limit:
        return message
    if unprintable(text.replace("\r", "")) is not None:
        return UNPRINTABLE
    return None


def _template_errors(kind: str, text: str) -> str | None:
    try:
        tree = _sandbox().parse(text)
    except jinja2.TemplateSyntaxError:
        return BAD_SYNTAX
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            return NOT_A_PLACEHOLDER
        if isinstance(node, nodes.Name) and node.name not in PLACEHOLDERS[kind]:
            return UNKNOWN_PLACEHOLDER
    return None


def check_template(kind: str, title: str, body: str) -> Wording:
    """The edited wording, or ValidationFailed with a message per field (the form re-shows)."""
    title = title.strip()
    body = "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").split("\n")).strip()
    errors: dict[str, str] = {}
    for field, text, limit, message in (
        ("title", title, TITLE_MAX, BAD_TITLE),
        ("body", body, BODY_MAX, BAD_BODY),
    ):
        problem = _text_errors(text, limit, message) or _template_errors(kind, text)
        if problem:
            errors[field] = problem
    if errors:
        raise ValidationFailed(errors)
    return Wording(title, body)


def render_wording(wording: Wording, values: dict[str, str]) -> tuple[str, list[str]]:
    """The title and the body's paragraphs with the values in place (plain text: the printed
    page escapes it)."""
    env = _sandbox()
    title = env.from_string(wording.title).render(values)
    body = env.from_string(wording.body).render(values)
    return title, [line for line in body.splitlines() if line.strip()]


def _newest(kind: str, dispute_type: str) -> Select[DocumentTemplate]:
    return (
        select(DocumentTemplate)
        .where(DocumentTemplate.kind == kind, DocumentTemplate.dispute_type == dispute_type)
        .order_by(DocumentTemplate.version.desc())
        .limit(1)
    )


async def choose(db: AsyncSession, kind: str, dispute_type: str) -> Chosen:
    for wanted in (dispute_type, ""):
        row = await db.scalar(_newest(kind, wanted))
        if row is not None:
            return Chosen(row.id, row.version, Wording(row.title, row.body))
    return Chosen(None, 0, DEFAULTS[kind])


async def current(db: AsyncSession, kind: str, dispute_type: str) -> Chosen:
    """What the editor of (kind, dispute type) starts from: its own newest version, else what a
    document of that type would use now."""
    row = await db.scalar(_newest(kind, dispute_type))
    if row is not None:
        return Chosen(row.id, row.version, Wording(row.title, row.body))
    return await choose(db, kind, "")


async def history(db: AsyncSession, kind: str, dispute_type: str) -> list[DocumentTemplate]:
    rows = await db.scalars(
        select(DocumentTemplate)
        .where(DocumentTemplate.kind == kind, DocumentTemplate.dispute_type == dispute_type)
        .order_by(DocumentTemplate.version.desc())
    )
    return list(rows)


async def do_save(
    db: AsyncSession, principal: Principal, kind: str, dispute_type: str, wording: Wording
) -> DocumentTemplate:
    """The next version; two admins saving at once: the unique key keeps one, the other is told.
    Templates serve every organisation, so only an admin at the top of a tree edits them."""
    org = await db.get(Organization, require_admin(principal))
    if org is None or org.parent_id is not None:
        raise PermissionDenied(TOP_ADMIN_ONLY)
    latest = await db.scalar(
        select(func.coalesce(func.max(DocumentTemplate.version), 0)).where(
            DocumentTemplate.kind == kind, DocumentTemplate.dispute_type == dispute_type
        )
    )
    row = DocumentTemplate(
        kind=kind,
        dispute_type=dispute_type,
        version=int(latest or 0) + 1,
        title=wording.title,
        body=wording.body,
        created_by=principal.key,
    )
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(SAVED_MEANWHILE) from None
    return row
