"""The CLI as an operator runs it: separate processes against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from app.settings import ROOT


async def run_cli(database_url: str, var_dir: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MEDIATION_VAR_DIR": str(var_dir)}
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
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_operator_commands(client, database_url, tmp_path) -> None:
    code, out = await run_cli(database_url, tmp_path, "migrate")
    assert code == 0 and "revision 0001" in out
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
