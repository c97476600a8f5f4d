"""Test data from builders: cases in the state a test needs, made through the real services
(the same use cases the pages call), so a test says what it needs, not how to get there."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web
from sqlalchemy import select

from app.auth import Principal
from app.db import sessionmaker_key, transaction
from app.lifecycle import CaseStatus, advance
from app.models import Case, Party
from app.settings import settings_key
from booking.intake import ApplicationInput, PartyInput, do_submit_application
from booking.triage import Registration, do_register
from documents import application, court, court_review, services
from documents.application_pdf import seal_application
from documents.models import Agreement, CourtFiling, JointApplication
from documents.sealed import seal_agreement
from documents.venue import Venue, check_venue
from tests.pdf_reading import signature_png


def draft_form(**overrides: str) -> dict[str, str]:
    """The mediator's agreement form, filled in."""
    deadline = (date.today() + timedelta(days=30)).isoformat()
    return {
        "facts": "被申请人装修时拆除双方共用院墙，申请人要求赔偿重建费用。",
        "terms": "李建国于2026年12月31日前支付王秀兰院墙重建费用人民币8000元\n双方共用通道保持畅通",
        "performance": "银行转账",
        "performance_deadline": deadline,
        **overrides,
    }


TWO_PARTIES = (
    PartyInput("applicant", "赵六", "13600000000", "11010519491231002X", ""),
    PartyInput("respondent", "钱七", "13600000001", "110105194912310029", ""),
)


async def applications(
    app: web.Application, org_id: int, n: int = 1, dispute_type: str = "lending"
) -> list[int]:
    """n new applications (status `applied`) to the organisation; their case ids."""
    async with transaction(app) as db:
        ids = []
        for i in range(n):
            case = await do_submit_application(
                db,
                app[settings_key],
                ApplicationInput(
                    org_id=org_id,
                    dispute_type=dispute_type,
                    description=f"第{i + 1}号纠纷：借款到期未还，双方对利息有争议。",
                    parties=TWO_PARTIES,
                ),
                actor="test",
            )
            ids.append(case.id)
    return ids


def staff(demo: dict[str, int], username: str, role: str, org: str) -> Principal:
    return Principal(
        kind="staff", staff_id=demo[f"user:{username}"], role=role, org_id=demo[f"org:{org}"]
    )


async def scheduled(app: web.Application, demo: dict[str, int]) -> int:
    """A new case of the town, registered and assigned to the demo mediator (what booking does)."""
    (case_id,) = await applications(app, demo["org:town"], dispute_type="neighbour")
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        await do_register(
            db,
            app[settings_key],
            staff(demo, "coordinator", "coordinator", "town"),
            case,
            Registration("blue", "general", "town"),
        )
        # Through the transition table, as booking moves it (without an appointment: no
        # room waits for an opening time, and no slot is taken).
        await advance(
            db,
            case,
            CaseStatus.SCHEDULED,
            "staff:test",
            "booked",
            public=False,
            mediator_id=demo["user:mediator"],
        )
    return case_id


async def drafted(app: web.Application, demo: dict[str, int], case_id: int) -> Agreement:
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        return await services.do_draft(
            db,
            staff(demo, "mediator", "mediator", "town"),
            case,
            services.check_draft(draft_form()),
        )


async def signed_by(app: web.Application, agreement: Agreement, *principals: Principal) -> None:
    for principal in principals:
        async with transaction(app) as db:
            row = await db.get(Agreement, agreement.id)
            assert row is not None
            await services.do_sign(db, principal, row, row.version_hash, signature_png(), {})


async def party_principals(app: web.Application, case_id: int) -> list[Principal]:
    async with app[sessionmaker_key]() as db:
        parties = await db.scalars(select(Party).where(Party.case_id == case_id))
        return [Principal(kind="party", party_id=p.id, case_id=case_id) for p in parties]


async def effective(app: web.Application, demo: dict[str, int]) -> Agreement:
    """A new case whose agreement every party and the mediator signed and the committee sealed."""
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    mediator = staff(demo, "mediator", "mediator", "town")
    await signed_by(app, agreement, *await party_principals(app, case_id), mediator)
    await seal_agreement(app, agreement.id)  # what the seal job does after the last signature
    return agreement


async def prepared(
    app: web.Application, demo: dict[str, int], agreement: Agreement, venue: Venue | None = None
) -> JointApplication:
    """The joint application of an effective agreement, prepared by the mediator for the demo
    court (the town's basic court through the district), no one has signed yet."""
    async with transaction(app) as db:
        case = await db.get(Case, agreement.case_id)
        row = await db.get(Agreement, agreement.id)
        assert case is not None and row is not None
        chosen = venue or await check_venue(db, case.org_id, "mediation_org", None, None)
        mediator = staff(demo, "mediator", "mediator", "town")
        return await application.do_prepare(db, app[settings_key], mediator, case, row, chosen)


async def application_signed_by(
    app: web.Application, joint: JointApplication, *principals: Principal
) -> None:
    for principal in principals:
        async with transaction(app) as db:
            row = await db.get(JointApplication, joint.id)
            assert row is not None
            await application.do_sign(db, principal, row, row.version_hash, signature_png(), {})


async def applied(app: web.Application, demo: dict[str, int], agreement: Agreement) -> int:
    """The agreement's joint application, signed by every party and sealed; its id."""
    joint = await prepared(app, demo, agreement)
    await application_signed_by(app, joint, *await party_principals(app, agreement.case_id))
    await seal_application(app, joint.id)  # what the seal job does after the last signature
    return joint.id


async def filed(app: web.Application, demo: dict[str, int]) -> int:
    """A new case whose effective agreement the mediator filed with the demo court, with the
    parties' signed joint application."""
    agreement = await effective(app, demo)
    await applied(app, demo, agreement)
    async with transaction(app) as db:
        case = await db.get(Case, agreement.case_id)
        row = await db.get(Agreement, agreement.id)
        assert case is not None and row is not None
        mediator = staff(demo, "mediator", "mediator", "town")
        filing = await court.do_file(db, mediator, case, row, demo["org:court"])
        return filing.id


async def accepted(app: web.Application, demo: dict[str, int]) -> int:
    """A filed case whose filing the demo court's clerk accepted (the judge may rule)."""
    filing_id = await filed(app, demo)
    async with transaction(app) as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        clerk = staff(demo, "clerk", "court_clerk", "court")
        number = f"(2026)苏0509民特{filing_id}号"
        await court_review.review(db, clerk, filing, "accepted", court_case_number=number)
    return filing_id
