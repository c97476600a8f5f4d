"""Demo availability: every mediator and expert, the next 14 days, 09:00–12:00 and 14:00–17:30."""

from __future__ import annotations

from aiohttp import web


async def seed_availability(app: web.Application) -> None:
    """Filled in by the booking feature."""
