"""Intake test data: a filled-in application form, the SMS codes the app texted, row counts."""

from __future__ import annotations

import io
import re
from typing import Any

from aiohttp import FormData, web
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Case, CaseEvent, Job, Party, PhoneCode
from booking.models import Evidence, GroupMember, PartyAgent
from tests.booking.setup_data import count
from tests.people import Client, csrf

APPLICANT_PHONE = "13900001111"
HUAWEI = "914403001922038216"  # a real unified social credit code (GB 32100 check passes)
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def application(**changes: str) -> dict[str, str]:
    return {
        "dispute_type": "neighbour",
        "description": "邻居家空调外机正对我家窗户，噪音和热风影响休息，协商未果。",
        "applicant_name": "赵敏",
        "applicant_phone": "139 0000 1111",
        "applicant_id_number": "11010519491231002X",
        "applicant_address": "江苏省苏州市吴江区松陵街道1号",
        "respondent_name": "钱军",
        "respondent_phone": "13900002222",
        "respondent_id_number": "",
        "respondent_address": "",
        **changes,
    }


async def texts_to(app: web.Application, phone: str) -> list[str]:
    """The SMS bodies queued for this phone, oldest first (the worker is off in tests)."""
    async with app[sessionmaker_key]() as db:
        jobs = await db.scalars(select(Job).where(Job.kind == "sms").order_by(Job.id))
        return [job.payload["body"] for job in jobs if job.payload.get("phone") == phone]


async def sms_code(app: web.Application, phone: str = APPLICANT_PHONE) -> str:
    """The last one-time code texted to the phone."""
    bodies = [body for body in await texts_to(app, phone) if "http" not in body]
    codes = [m.group(1) for body in bodies if (m := _CODE.search(body))]
    assert codes, f"no code was texted to {phone}"
    return codes[-1]


async def rows(app: web.Application) -> dict[str, int]:
    models: tuple[Any, ...] = (Case, Party, PartyAgent, GroupMember, Evidence, CaseEvent)
    return {model.__tablename__: await count(app, model) for model in models}


async def codes_issued(app: web.Application) -> int:
    return await count(app, PhoneCode)


class File:
    """A file field's content and the name the browser sends with it."""

    def __init__(self, data: bytes, filename: str, content_type: str = "application/octet-stream"):
        self.data, self.filename, self.content_type = data, filename, content_type


async def post(client: Client, path: str, data: dict[str, Any], **kw: Any) -> Any:
    """A form post as the browser sends it (multipart when it carries a File)."""
    token = await csrf(client)
    fields = {**data, "_csrf": token}
    if not any(isinstance(value, File) for value in fields.values()):
        return await client.post(path, data=fields, **kw)
    form = FormData(quote_fields=False)  # browsers send file names as UTF-8, not %-escaped
    for name, value in fields.items():
        if isinstance(value, File):
            form.add_field(
                name,
                io.BytesIO(value.data),
                filename=value.filename,
                content_type=value.content_type,
            )
        else:
            form.add_field(name, str(value))
    return await client.post(path, data=form, **kw)


async def request_code(client: Client, form: dict[str, str]) -> Any:
    return await post(client, "/apply", {**form, "action": "send_code"})
