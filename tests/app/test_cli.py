"""The CLI as an operator runs it: separate processes against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from app.readiness import head_revision
from app.settings import ROOT

CLI_SECONDS = 120  # a command that hangs (a server that should have refused) fails the test


async def run_cli(
    database_url: str,
    var_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Runs `python -m app ARGS` in the demo's development mode unless `env` says otherwise."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIATION_VAR_DIR": str(var_dir),
        "MEDIATION_MODE": "development",
        **(env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), CLI_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(
            f"python -m app {' '.join(args)} still running after {CLI_SECONDS} s"
        ) from None
    return process.returncode or 0, out.decode()


async def test_operator_commands(client, database_url, tmp_path) -> None:
    code, out = await run_cli(database_url, tmp_path, "migrate")
    assert code == 0 and f"revision {head_revision()}" in out
    code, out = await run_cli(database_url, tmp_path, "seed-demo")
    assert code == 0 and "demo data created" in out and "coordinator" in out
    code, out = await run_cli(database_url, tmp_path, "seed-demo")
    assert code == 0 and "already present" in out
    code, out = await run_cli(
        database_url,
        tmp_path,
        "create-user",
        "zhou",
        "--name",
        "周敏",
        "--role",
        "coordinator",
        "--org",
        "2",
        "--password",
        "long-password-1",
    )
    assert code == 0, out
    code, out = await run_cli(
        database_url,
        tmp_path,
        "create-user",
        "zhou",
        "--name",
        "x",
        "--role",
        "coordinator",
        "--org",
        "2",
        "--password",
        "long-password-1",
    )
    assert code == 2 and "exists" in out
    code, out = await run_cli(database_url, tmp_path, "create-token", "zhou")
    assert code == 0
    token = out.strip().splitlines()[-1]
    response = await client.get("/api/v1/mediators", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    names = {m["name"] for m in (await response.json())["mediators"]}
    assert "陈调解" in names
    code, out = await run_cli(database_url, tmp_path, "check")
    assert code == 0, out
    assert "ok   schema" in out and "ok   CJK fonts" in out


async def test_the_server_settles_its_garbage_collector_after_start_up() -> None:
    """`serve`'s start-up hook, in a process of its own: what start-up built is frozen and
    young collections wait for 10,000 objects (bench/README.md: full collections had set the
    signaling p99)."""
    code = (
        "import asyncio, gc; from aiohttp import web; from app import cli; "
        "asyncio.run(cli._freeze(web.Application())); "
        "print(gc.get_threshold()[0], gc.get_freeze_count())"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), CLI_SECONDS)
    young, frozen = map(int, out.split())
    assert young == 10_000 and frozen > 10_000, out
