import pytest
from aiohttp import web

from app.auth import Principal
from app.db import transaction
from app.models import Case, Organization
from app.settings import settings_key
from booking.triage import Registration, do_register


@pytest.fixture
async def scheduled_case(app: web.Application, demo: dict[str, int]) -> int:
    """The demo case, registered and assigned to the demo mediator (what booking does)."""
    async with transaction(app) as db:
        case = await db.get(Case, demo["case"])
        assert case is not None
        coordinator = Principal(
            kind="staff",
            staff_id=demo["user:coordinator"],
            role="coordinator",
            org_id=demo["org:town"],
        )
        await do_register(
            db, app[settings_key], coordinator, case, Registration("blue", "general", "town")
        )
        case.mediator_id = demo["user:mediator"]
        case.status = "scheduled"
        assert await db.get(Organization, demo["org:court"]) is not None
    return demo["case"]
