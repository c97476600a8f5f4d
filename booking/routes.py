from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers booking's routes, case panels and job handlers."""
