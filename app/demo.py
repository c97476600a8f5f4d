"""Demo data for `make run`: an organisation per tier, a court, staff of every role, a case."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import hash_password
from app.db import transaction
from app.identity import id_digest, mask_id_number
from app.models import Case, Organization, Party, StaffUser
from app.services import record_event
from app.settings import settings_key

DEMO_PASSWORD = "demo-2026-pass"  # noqa: S105  (published demo login, demo data only)

# username, display name, role, organisation key, phone
DEMO_STAFF = (
    ("admin", "管理员", "admin", "district", "13800000001"),
    ("coordinator", "周协调", "coordinator", "town", "13800000002"),
    ("mediator", "陈调解", "mediator", "town", "13800000003"),
    ("mediator2", "刘调解", "mediator", "village", "13800000004"),
    ("expert", "吴专家", "expert", "district", "13800000005"),
    ("clerk", "郑书记员", "court_clerk", "court", "13800000006"),
    ("judge", "钱法官", "judge", "court", "13800000009"),
)


async def seed_demo(app: web.Application) -> bool:
    """Idempotent: returns False when the demo data is already there."""
    async with transaction(app) as db:
        if await db.scalar(select(StaffUser).where(StaffUser.username == "coordinator")):
            return False
        district = Organization(name="吴江区矛盾纠纷调解中心", short_name="吴", tier="district")
        db.add(district)
        await db.flush()
        town = Organization(
            name="松陵街道人民调解委员会", short_name="吴松", tier="town", parent_id=district.id
        )
        court = Organization(
            name="吴江区人民法院", short_name="吴法", tier="district", kind="court"
        )
        db.add_all([town, court])
        await db.flush()
        district.court_org_id = court.id  # the basic court its committees apply to
        village = Organization(
            name="联杨村人民调解委员会", short_name="吴联", tier="village", parent_id=town.id
        )
        db.add(village)
        await db.flush()
        orgs = {"district": district, "town": town, "village": village, "court": court}
        password_hash = hash_password(DEMO_PASSWORD)
        for username, name, role, org_key, phone in DEMO_STAFF:
            db.add(
                StaffUser(
                    org_id=orgs[org_key].id,
                    username=username,
                    display_name=name,
                    role=role,
                    phone=phone,
                    password_hash=password_hash,
                )
            )
        await _demo_application(db, app[settings_key].id_hash_key, town.id)
    return True


_VILLAGE = "江苏省苏州市吴江区松陵街道"
DEMO_PARTIES = (
    (
        "applicant",
        "王秀兰",
        "13912345678",
        "320584198503150023",
        "江苏省苏州市吴江区松陵街道联杨村12号",
    ),
    (
        "respondent",
        "李建国",
        "13787654321",
        "320584197901010013",
        "江苏省苏州市吴江区松陵街道联杨村14号",
    ),
)


async def _demo_application(db: AsyncSession, id_hash_key: str, org_id: int) -> None:
    """The demo's one application, written directly: the intake service (booking/intake.py)
    is a feature's, and the kernel imports no feature."""
    case = Case(
        org_id=org_id,
        dispute_type="neighbour",
        tier="town",
        description="邻居装修时拆除了共用院墙，双方就重建费用和通行问题发生争执。",
        status="applied",
    )
    db.add(case)
    await db.flush()
    for role, name, phone, id_number, address in DEMO_PARTIES:
        db.add(
            Party(
                case_id=case.id,
                role=role,
                name=name,
                phone=phone,
                address=address,
                id_masked=mask_id_number(id_number),
                id_digest=id_digest(id_number, id_hash_key),
            )
        )
    await record_event(db, case.id, "applied", "demo")
