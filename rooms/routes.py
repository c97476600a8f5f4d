from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers rooms's routes, case panels and job handlers."""
