"""`python -m app check`: is this machine ready to run the system?"""

from __future__ import annotations

import shutil
import subprocess

from app.db import make_engine
from app.migrate import current_revision, drift
from app.settings import Settings

Result = tuple[str, bool, str]


async def _database(settings: Settings) -> list[Result]:
    engine = make_engine(settings.database_url)
    try:
        revision = await current_revision(engine)
        differences = await drift(engine) if revision else ["not migrated"]
    except Exception as exc:
        return [("database", False, f"{type(exc).__name__}: {exc}")]
    finally:
        await engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    return [
        ("database", True, url),
        (
            "schema",
            revision is not None and not differences,
            f"revision {revision}"
            if not differences
            else f"{len(differences)} differences; run python -m app migrate",
        ),
    ]


def _fonts() -> Result:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return ("CJK fonts", False, "fontconfig is missing")
    out = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    found = "Noto Serif CJK SC" in out or "Noto Sans CJK SC" in out
    return ("CJK fonts", found, "Noto CJK found" if found else "install fonts-noto-cjk")


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
    return [*await _database(settings), _fonts(), _weasyprint(), _aiortc()]
