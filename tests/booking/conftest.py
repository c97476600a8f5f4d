"""Booking fixtures: demo data with availability, a registered case."""

from __future__ import annotations

import pytest
from aiohttp import web

import booking.models  # noqa: F401  (registers booking's tables before the first truncation)
from booking.demo import seed_availability
from tests.booking.setup_data import register_case


@pytest.fixture
async def booking_demo(app: web.Application, demo: dict[str, int]) -> dict[str, int]:
    """The demo data plus 14 days of availability for every mediator and expert."""
    await seed_availability(app)
    return demo


@pytest.fixture
async def registered(app: web.Application, booking_demo: dict[str, int]) -> dict[str, int]:
    """The demo case, registered (受理) by the coordinator."""
    await register_case(app, booking_demo["case"], booking_demo["user:coordinator"])
    return booking_demo
