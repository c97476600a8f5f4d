"""The composition root: `create_app(settings)` builds everything; nothing lives at module level."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from app import (
    alerts,
    auth,
    court_systems,
    notify,
    openapi,
    rendering,
    security,
    storage,
    throttle,
    webhooks,
)
from app import routes as app_routes
from app.db import engine_key, make_engine, make_reader, reader_key, sessionmaker_key
from app.factory_keys import executor_key
from app.jobs import handlers_key, worker_loop
from app.logs import configure_logging
from app.middleware import MIDDLEWARES
from app.settings import Settings, settings_key
from app.startup import check_settings
from app.tasks import cancel_and_wait

MAX_BODY = 2 * 1024 * 1024  # signatures are small PNGs; nothing larger is uploaded yet


def create_app(settings: Settings) -> web.Application:
    configure_logging(settings.log_level)
    check_settings(settings)  # every entry point passes here: production refuses unsafe secrets
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=MAX_BODY)
    app[settings_key] = settings
    app[handlers_key] = {}
    app[court_systems.routes_key] = {f"{openapi.PREFIX}/openapi.json"}
    app[auth.own_session_key] = set()
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_executor)
    rendering.setup(app)
    security.setup(app)
    app_routes.setup(app)
    openapi.setup(app)
    notify.setup(app)
    storage.setup(app, settings)
    alerts.setup(app)
    throttle.setup(app)
    webhooks.setup(app)

    import booking.routes
    import documents.routes
    import rooms.routes

    booking.routes.setup(app)
    rooms.routes.setup(app)
    documents.routes.setup(app)
    if settings.run_worker:
        app.cleanup_ctx.append(_worker)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url, settings.db_pool)
    app[engine_key] = engine
    app[sessionmaker_key] = async_sessionmaker(engine, expire_on_commit=False)
    app[reader_key] = make_reader(engine)
    yield
    await engine.dispose()


async def _executor(app: web.Application) -> AsyncIterator[None]:
    app[executor_key] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="blocking")
    yield
    app[executor_key].shutdown(wait=True)


async def _worker(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(worker_loop(app))
    yield
    await cancel_and_wait(task)


logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
