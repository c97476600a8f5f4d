from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers documents's routes, case panels and job handlers."""
