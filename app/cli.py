"""`python -m app COMMAND`: serve, migrate, seed-demo, create-user, create-token, worker, check,
verify, verify-audit."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from app import auth
from app.db import make_engine, sessionmaker_key, transaction
from app.factory import create_app
from app.health import database_unavailable
from app.jobs import worker_loop
from app.migrate import current_revision, upgrade
from app.models import ROLES, Organization, StaffUser
from app.readiness import database_not_ready
from app.settings import Settings, from_env
from app.startup import EXIT_DATABASE_NOT_READY, RefusedToStart, check_settings

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


async def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    print(f"database at revision {await current_revision(engine)}")
    await engine.dispose()
    return 0


async def cmd_seed_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from app.demo import DEMO_PASSWORD, seed_demo
    from booking.demo import seed_availability

    async with _app_context(settings) as app:
        created = await seed_demo(app)
        if created:
            await seed_availability(app)
    print("demo data " + ("created" if created else "already present"))
    print(
        f"demo logins (password {DEMO_PASSWORD}): coordinator, mediator, mediator2, "
        "expert, clerk, admin"
    )
    return 0


async def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("password: ")
    if len(password) < 10:
        print("password must have at least 10 characters", file=sys.stderr)
        return 2
    async with _app_context(settings) as app, transaction(app) as db:
        org = await db.get(Organization, args.org)
        if org is None:
            print(f"no organisation {args.org}", file=sys.stderr)
            return 2
        if await db.scalar(select(StaffUser).where(StaffUser.username == args.username)):
            print(f"user {args.username} exists", file=sys.stderr)
            return 2
        db.add(
            StaffUser(
                org_id=org.id,
                username=args.username,
                display_name=args.name,
                role=args.role,
                password_hash=auth.hash_password(password),
            )
        )
    print(f"created {args.role} {args.username}")
    return 0


async def cmd_create_token(settings: Settings, args: argparse.Namespace) -> int:
    async with _app_context(settings) as app, transaction(app) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == args.username))
        if user is None:
            print(f"no user {args.username}", file=sys.stderr)
            return 2
        token = await auth.create_api_token(db, user.id, args.name)
    print(token)
    return 0


async def require_database(settings: Settings) -> None:
    """A long-running process refuses to start on a database it cannot use (serve, worker)."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)  # where the SQLite file lives
    problem = await database_not_ready(settings)
    if problem is not None:
        raise RefusedToStart(f"refusing to start: {problem}", EXIT_DATABASE_NOT_READY)


async def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    check_settings(settings)  # unsafe settings are refused before the database is tried
    await require_database(settings)
    async with _app_context(settings) as app:
        await worker_loop(app)
    return 0


async def cmd_check(settings: Settings, _args: argparse.Namespace) -> int:
    from app.readiness import readiness

    results = await readiness(settings)
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    return 0 if all(ok for _n, ok, _d in results) else 1


async def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    # documents is imported here, not at the top: the kernel imports no feature package.
    from documents.sealed import verify_report

    pdf = Path(args.file).read_bytes()  # noqa: ASYNC240  (a CLI command: nothing else runs)
    async with _app_context(settings) as app:
        report = await verify_report(app, pdf)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["valid"] and report["on_record"] else 1


async def cmd_verify_audit(settings: Settings, _args: argparse.Namespace) -> int:
    from app.audit import verify_chain
    from app.models import CaseEvent

    async with _app_context(settings) as app, app[sessionmaker_key]() as db:
        events = await db.stream_scalars(
            select(CaseEvent)
            .order_by(CaseEvent.case_id, CaseEvent.id)
            .execution_options(yield_per=1000)
        )
        found = verify_chain([ev async for ev in events])
    if found is None:
        print("every case's timeline is intact")
        return 0
    print(f"case {found.case_id}: event {found.event_id}: {found.problem}")
    return 1


class _app_context:
    """The app's resources (database, executor) without serving HTTP."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(Settings(**{**settings.__dict__, "run_worker": False}))
        self.runner = web.AppRunner(self.app)

    async def __aenter__(self) -> web.Application:
        await self.runner.setup()
        return self.app

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def serve(settings: Settings) -> None:
    app = create_app(settings)
    asyncio.run(require_database(settings))
    app.on_startup.append(_freeze)
    print(f"serving on {settings.base_url}", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None)


async def _freeze(_app: web.Application) -> None:
    """What start-up built (modules, mappers, compiled statements) lives as long as the process:
    moved out of the collector's reach, so that a full collection walks only what requests and
    sockets made (it walked everything, a pause of tens of milliseconds with a thousand sockets
    open).

    And a young generation of YOUNG objects instead of 700: a full collection is due once the
    survivors of young collections reach a quarter of the old objects, and every young
    collection under a stream of signals promotes the messages then in flight. With a thousand
    sockets relaying, full collections (40-90 ms each) came every few seconds and set the p99;
    a young collection of 10,000 objects takes about a millisecond."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, *gc.get_threshold()[1:])


YOUNG = 10_000


COMMANDS: dict[str, Command] = {
    "migrate": cmd_migrate,
    "seed-demo": cmd_seed_demo,
    "create-user": cmd_create_user,
    "create-token": cmd_create_token,
    "worker": cmd_worker,
    "check": cmd_check,
    "verify": cmd_verify,
    "verify-audit": cmd_verify_audit,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the web server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    sub.add_parser("migrate", help="upgrade the database schema to the newest migration")
    sub.add_parser("seed-demo", help="create demo organisations, staff and a case (idempotent)")
    u = sub.add_parser("create-user", help="create a staff user")
    u.add_argument("username")
    u.add_argument("--name", required=True, help="display name")
    u.add_argument("--role", required=True, choices=ROLES)
    u.add_argument("--org", required=True, type=int, help="organisation id")
    u.add_argument("--password", help="asked for when omitted")
    t = sub.add_parser("create-token", help="print a new API token for a staff user")
    t.add_argument("username")
    t.add_argument("--name", default="api", help="what the token is for")
    sub.add_parser("worker", help="run the background job worker")
    sub.add_parser("check", help="report database, fonts, WeasyPrint and aiortc readiness")
    v = sub.add_parser("verify", help="check a sealed agreement PDF: seal, changes, record")
    v.add_argument("file", help="the PDF file")
    sub.add_parser("verify-audit", help="check the hash chains of the case timelines")
    return p


def _bind(settings: Settings, args: argparse.Namespace) -> Settings:
    """`serve --host/--port`; the base URL follows them unless MEDIATION_BASE_URL set it."""
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    if not overrides:
        return settings
    merged = {**settings.__dict__, **overrides}
    if settings.base_url == f"http://{settings.host}:{settings.port}":
        merged["base_url"] = f"http://{merged['host']}:{merged['port']}"
    return Settings(**merged)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = from_env()
    try:
        if args.command == "serve":
            serve(_bind(settings, args))
            return
        status = asyncio.run(COMMANDS[args.command](settings, args))
    except RefusedToStart as refused:
        print(refused, file=sys.stderr)
        sys.exit(refused.exit_status)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        print(f"the database is unreachable: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(EXIT_DATABASE_NOT_READY)
    sys.exit(status)
