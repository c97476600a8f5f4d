"""Signing over HTTP as a signer's browser does: ask for the SMS code, read it from the outbox,
post the drawn signature with the code and the consent; for an agreement or a joint application
(the same ceremony under /agreements/… and /applications/…)."""

from __future__ import annotations

import base64
import re
from typing import Any

from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key
from app.jobs import run_pending
from app.models import Message
from documents.models import Agreement, JointApplication
from tests.pdf_reading import signature_png
from tests.people import csrf

SIGNATURE_SIZE = (120, 40)
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def signature_body(version_hash: str, code: str | None = None) -> dict[str, Any]:
    image = "data:image/png;base64," + base64.b64encode(signature_png(*SIGNATURE_SIZE)).decode()
    return {"version_hash": version_hash, "image": image, "code": code, "consent": True}


Document = Agreement | JointApplication


def base(document: Document) -> str:
    kind = "applications" if isinstance(document, JointApplication) else "agreements"
    return f"/{kind}/{document.id}"


async def request_code(client: Any, agreement: Document) -> Any:
    token = await csrf(client, base(agreement))
    return await client.post(
        f"{base(agreement)}/code",
        json={},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def last_code(app: web.Application, phone: str) -> str:
    """The code in the newest SMS to `phone` (delivered by the job runner, as in production)."""
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        bodies = list(
            await db.scalars(
                select(Message.body).where(Message.recipient == phone).order_by(Message.id.desc())
            )
        )
    for body in bodies:
        if "验证码" in body and (match := _CODE.search(body)):
            return match.group(1)
    raise AssertionError(f"no code texted to {phone}")


async def post_signature(client: Any, agreement: Document, body: dict[str, Any]) -> Any:
    token = await csrf(client, base(agreement))
    return await client.post(
        f"{base(agreement)}/signatures",
        json=body,
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def sign_with_code(
    client: Any, app: web.Application, agreement: Document, phone: str | None
) -> Any:
    """The whole ceremony for one signer; `phone` None for staff without a phone on record."""
    code = None
    if phone is not None:
        assert (await request_code(client, agreement)).status == 201
        code = await last_code(app, phone)
    return await post_signature(client, agreement, signature_body(agreement.version_hash, code))


MEDIATOR_PHONE = "13800000003"  # the demo mediator's phone on record (app/demo.py)


async def party_phone(app: web.Application, case_id: int, role: str = "applicant") -> str:
    from app.models import Party

    async with app[sessionmaker_key]() as db:
        phone = await db.scalar(
            select(Party.phone).where(Party.case_id == case_id, Party.role == role)
        )
    assert phone is not None
    return phone
