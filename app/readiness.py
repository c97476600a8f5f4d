"""Is this machine ready? `python -m app check` reports; `serve` and `worker` refuse to start."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import make_engine
from app.migrate import alembic_config, current_revision, drift
from app.settings import Settings
from app.startup import production_problems

Result = tuple[str, bool, str]
CONNECT_SECONDS = 10.0  # a black-holed database host would otherwise hang for the driver's 60 s


def head_revision() -> str | None:
    """The newest migration this release ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _revision(engine: AsyncEngine) -> str | None:
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            return await current_revision(engine)
    except Exception:
        # aiosqlite stops its thread after a failed connect without awaiting it; the thread's
        # reply must land before asyncio.run closes the loop, or it prints a thread traceback.
        await asyncio.sleep(0.2)
        raise


async def database_not_ready(settings: Settings) -> str | None:
    """Why the app must not serve on this database (unreachable, schema not at head), or None."""
    engine = make_engine(settings.database_url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        revision = await _revision(engine)
    except Exception as exc:  # whatever the driver raises, the database is not usable
        return (
            f"the database at {url} is unreachable ({type(exc).__name__}: {exc}); "
            "check DATABASE_URL and that the database server is running"
        )
    finally:
        await engine.dispose()
    head = head_revision()
    if revision != head:
        return (
            f"the database schema at {url} is at revision {revision or 'none (not migrated)'}, "
            f"this release needs {head}; run `python -m app migrate`"
        )
    return None


async def _database(settings: Settings) -> list[Result]:
    engine = make_engine(settings.database_url)
    try:
        revision = await _revision(engine)
        differences = await drift(engine) if revision else ["not migrated"]
    except Exception as exc:
        return [("database", False, f"{type(exc).__name__}: {exc}")]
    finally:
        await engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    head = head_revision()
    if revision != head:
        schema = f"revision {revision or 'none'}, this release needs {head}"
        schema += "; run python -m app migrate"
    elif differences:
        schema = f"{len(differences)} differences from the models"
    else:
        schema = f"revision {revision}"
    return [
        ("database", True, url),
        ("schema", revision == head and not differences, schema),
    ]


def _settings(settings: Settings) -> Result:
    problems = production_problems(settings)
    detail = "; ".join(p.variable for p in problems) or "no development secrets"
    if problems and settings.mode == "development":
        return ("settings", True, f"development mode; production would refuse: {detail}")
    return ("settings", not problems, detail if not problems else f"unsafe: {detail}")


def _fonts() -> Result:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return ("CJK fonts", False, "fontconfig is missing")
    out = subprocess.run(
        [fc_list, ":", "family"], capture_output=True, text=True, check=False
    ).stdout
    missing = [
        package
        for package, family in (
            ("fonts-noto-cjk", "Noto Serif CJK SC"),  # the agreement's text
            ("fonts-hanazono", "HanaMinB"),  # rare characters of names: CJK Extensions B-F
            ("fonts-babelstone-han", "BabelStone Han"),  # … and Extension G
        )
        if family not in out
    ]
    if missing:
        return ("CJK fonts", False, "install " + " ".join(missing))
    return ("CJK fonts", True, "Noto CJK, HanaMinB and BabelStone Han found")


def _weasyprint() -> Result:
    try:
        import weasyprint
    except Exception as exc:  # missing pango raises OSError at import
        return ("WeasyPrint", False, f"{type(exc).__name__}: {exc}")
    return ("WeasyPrint", True, f"version {weasyprint.__version__}")


def _aiortc() -> Result:
    try:
        import aiortc
    except Exception as exc:
        return ("aiortc", False, f"{type(exc).__name__}: {exc}")
    return ("aiortc", True, f"version {aiortc.__version__}")


async def readiness(settings: Settings) -> list[Result]:
    return [*await _database(settings), _settings(settings), _fonts(), _weasyprint(), _aiortc()]
