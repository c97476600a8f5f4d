"""Starting the app: production refuses development secrets, `serve` refuses a database it
cannot use, and the demo's development mode still starts."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from alembic.script import ScriptDirectory

from app.db import make_engine
from app.factory import create_app
from app.migrate import alembic_config, upgrade
from app.readiness import head_revision
from app.settings import DEVELOPMENT_ID_HASH_KEY, ROOT, Settings
from app.startup import RefusedToStart, production_problems
from tests.app.test_cli import run_cli
from tests.conftest import _free_port, _pg_admin, _pg_url

SAFE = Settings(
    mode="production",
    base_url="https://mediation.example.gov.cn",
    https=True,
    id_hash_key="k" * 40,
    seal_key_file=Path("/etc/mediation/seal.key"),
    seal_cert_file=Path("/etc/mediation/seal.pem"),
    turn_url="turn:turn.example.gov.cn:3478",
    turn_secret="coturn-static-auth-secret",
)
DEFAULT_SECRETS = ("MEDIATION_ID_HASH_KEY", "MEDIATION_SEAL_KEY", "MEDIATION_SEAL_CERT")


@pytest.mark.parametrize(
    ("changes", "variable", "words"),
    [
        ({"id_hash_key": DEVELOPMENT_ID_HASH_KEY}, "MEDIATION_ID_HASH_KEY", "development value"),
        ({"id_hash_key": "short-but-random"}, "MEDIATION_ID_HASH_KEY", "only 16 characters"),
        ({"seal_key_file": None}, "MEDIATION_SEAL_KEY", "development seal"),
        ({"seal_cert_file": None}, "MEDIATION_SEAL_CERT", "development seal"),
        ({"turn_secret": None}, "MEDIATION_TURN_SECRET", "no TURN credentials"),
        ({"outbox_shows_links": True}, "MEDIATION_OUTBOX_SHOWS_LINKS", "demo only"),
        ({"mode": "staging"}, "MEDIATION_MODE", "'staging'"),
        ({"base_url": "http://mediation.example.gov.cn", "https": False}, "MEDIATION_BASE_URL", ""),
        ({"https": False}, "MEDIATION_HTTPS", "not be Secure"),
        ({"public_base_url": "http://verify.example.cn"}, "MEDIATION_PUBLIC_BASE_URL", "https"),
    ],
)
def test_each_unsafe_setting_is_named_with_its_variable(
    changes: dict[str, object], variable: str, words: str
) -> None:
    assert production_problems(SAFE) == []
    problems = production_problems(replace(SAFE, **changes))  # type: ignore[arg-type]
    assert len(problems) == 1
    assert variable in problems[0].variable and words in problems[0].why


def test_production_refuses_default_secrets_and_development_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(RefusedToStart) as refused:
        create_app(Settings())
    assert refused.value.exit_status == 2
    for variable in (*DEFAULT_SECRETS, "MEDIATION_BASE_URL"):
        assert variable in str(refused.value)
    with caplog.at_level(logging.WARNING, logger="app.startup"):
        create_app(Settings(mode="development"))
    assert "MEDIATION_ID_HASH_KEY" in caplog.text
    create_app(SAFE)  # nothing to refuse


async def test_entry_points_refuse_default_secrets_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'never-opened.db'}"
    env = {"MEDIATION_MODE": "production", "MEDIATION_PORT": str(_free_port())}
    results = await asyncio.gather(
        *(run_cli(url, tmp_path, command, env=env) for command in ("serve", "worker", "seed-demo"))
    )
    for code, out in results:
        assert code == 2, out
        assert "refusing to start in production mode" in out and "Traceback" not in out
        assert all(variable in out for variable in DEFAULT_SECRETS)
    assert not (tmp_path / "never-opened.db").exists()


def _unreachable(kind: str, tmp_path: Path) -> str:
    if kind == "postgresql":  # nothing listens there
        return f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/mediation"
    (tmp_path / "a-file").write_text("")  # a directory that cannot exist
    return f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'mediation.db'}"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_serve_refuses_an_unreachable_database(kind: str, tmp_path: Path) -> None:
    env = {"MEDIATION_PORT": str(_free_port())}
    code, out = await run_cli(_unreachable(kind, tmp_path), tmp_path, "serve", env=env)
    assert code == 1, out
    assert "refusing to start: the database at" in out and "is unreachable" in out
    assert "DATABASE_URL" in out and "Traceback" not in out and "serving on" not in out


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database nobody has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"mediation_empty_{uuid.uuid4().hex[:10]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except OSError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield _pg_url(name)
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_serve_refuses_a_schema_behind_the_code(empty_database: str, tmp_path: Path) -> None:
    env = {"MEDIATION_PORT": str(_free_port())}
    code, out = await run_cli(empty_database, tmp_path, "serve", env=env)
    assert code == 1 and "revision none (not migrated)" in out, out
    assert "python -m app migrate" in out and "Traceback" not in out

    head = head_revision()
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    engine = make_engine(empty_database)
    await upgrade(engine, previous)
    await engine.dispose()
    code, out = await run_cli(empty_database, tmp_path, "serve", env=env)
    assert code == 1 and f"at revision {previous}, this release needs {head}" in out, out


async def test_development_mode_starts_and_answers(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIATION_VAR_DIR": str(tmp_path),
        "MEDIATION_MODE": "development",
        "MEDIATION_PORT": str(port),
        "MEDIATION_RUN_WORKER": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "serve",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert await _healthz_status(f"http://127.0.0.1:{port}/healthz", seconds=60) == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert "serving on" in out.decode() and "development mode" in out.decode()


async def _healthz_status(url: str, seconds: float) -> int:
    async with aiohttp.ClientSession() as session:
        for _ in range(int(seconds * 10)):
            try:
                async with session.get(url) as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answered at {url} within {seconds} s")
