"""SMS one-time codes: 6 digits, valid `otp_minutes`, `otp_attempts` wrong tries, then locked.

`issue_code` queues the SMS in the caller's transaction; `verify_code` spends an attempt with a
conditional UPDATE before comparing, so concurrent guesses cannot exceed the limit. Each feature
names a purpose and a subject (what the code unlocks), and a code for one never opens another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.errors import Conflict, TooManyRequests, UserError
from app.i18n import N_, translate
from app.models import PhoneCode
from app.notify import send_sms
from app.settings import Settings

CODE_LENGTH = 6
SMS_LOCALE = "zh_CN"
RESEND_SECONDS = 60
CODE_SMS = N_("Your verification code is {code}, valid for {minutes} minutes. Do not share it.")
WRONG_CODE = N_("The code is wrong or has expired. Please check it or request a new one.")
LOCKED = N_("Too many wrong codes. Please request a new code.")
TOO_SOON = N_("A code was sent less than a minute ago. Please wait before requesting another.")


def _digest(settings: Settings, code: str) -> str:
    return hmac.new(settings.id_hash_key.encode(), code.encode(), hashlib.sha256).hexdigest()


async def issue_code(
    db: AsyncSession,
    settings: Settings,
    purpose: str,
    subject: str,
    phone: str,
    *,
    case_id: int | None = None,
    now: datetime | None = None,
) -> PhoneCode:
    """A new code for (purpose, subject), texted to `phone`; earlier codes for it stop working."""
    now = now or utcnow()
    latest = await db.scalar(
        select(PhoneCode.created_at)
        .where(PhoneCode.purpose == purpose, PhoneCode.subject == subject)
        .order_by(PhoneCode.id.desc())
        .limit(1)
    )
    if latest is not None and now - latest < timedelta(seconds=RESEND_SECONDS):
        raise TooManyRequests(TOO_SOON, retry_after=RESEND_SECONDS - (now - latest).seconds)
    await db.execute(
        update(PhoneCode)
        .where(
            PhoneCode.purpose == purpose,
            PhoneCode.subject == subject,
            PhoneCode.verified_at.is_(None),
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
    row = PhoneCode(
        purpose=purpose,
        subject=subject,
        phone=phone,
        code_hash=_digest(settings, code),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.otp_minutes),
        attempts=0,
    )
    db.add(row)
    await db.flush()
    body = translate(CODE_SMS, SMS_LOCALE, code=code, minutes=settings.otp_minutes)
    await send_sms(db, phone, body, case_id)
    return row


async def verify_code(
    db: AsyncSession,
    settings: Settings,
    purpose: str,
    subject: str,
    code: str,
    *,
    now: datetime | None = None,
) -> PhoneCode:
    """The verified code row (its id and time are evidence), or UserError / Conflict when wrong,
    expired, already used or locked. The attempt is spent in the caller's transaction `db` by a
    conditional UPDATE, which also holds the code's row (PostgreSQL) or the database (SQLite)
    until `db` ends, so concurrent guesses are counted one after the other. A wrong guess
    commits `db` before raising, so it counts although the caller then rolls back: call this
    before `db` writes anything. A right one marks the code used in `db`, together with what it
    unlocks. One connection throughout: a request never waits for a second while holding one."""
    now = now or utcnow()
    row = await db.scalar(
        select(PhoneCode)
        .where(PhoneCode.purpose == purpose, PhoneCode.subject == subject)
        .order_by(PhoneCode.id.desc())
        .limit(1)
    )
    if row is None or row.verified_at is not None or row.expires_at <= now:
        raise UserError(WRONG_CODE)
    code_id, code_hash = row.id, row.code_hash
    spent = await db.execute(
        update(PhoneCode)
        .where(PhoneCode.id == code_id, PhoneCode.attempts < settings.otp_attempts)
        .values(attempts=PhoneCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(LOCKED)
    candidate = code.strip()
    if not (candidate.isdigit() and len(candidate) == CODE_LENGTH) or not hmac.compare_digest(
        _digest(settings, candidate), code_hash
    ):
        await db.commit()
        raise UserError(WRONG_CODE)
    used = await db.execute(
        update(PhoneCode)
        .where(PhoneCode.id == code_id, PhoneCode.verified_at.is_(None))
        .values(verified_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise UserError(WRONG_CODE)
    verified = await db.get(PhoneCode, code_id, populate_existing=True)
    assert verified is not None
    return verified
