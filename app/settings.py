"""Settings: the only place the environment is read (see docs/configuration.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent

# Deadline hours by complexity (seed 004); other counties use other numbers.
DEFAULT_DEADLINES = {"simple": 24, "general": 72, "complex": 240, "difficult": 720}
MODES = ("production", "development")
DEVELOPMENT_ID_HASH_KEY = "development-only-id-hash-key"


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite+aiosqlite:///{ROOT / 'var' / 'mediation.db'}"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = "http://127.0.0.1:8080"
    var_dir: Path = ROOT / "var"
    default_locale: str = "zh_CN"
    # production refuses to start with a development secret; development runs the demo.
    mode: str = "production"
    session_hours: int = 12
    party_link_days: int = 30
    https: bool = False  # Secure cookies (every one) and HSTS
    trust_forwarded: bool = False  # take the client address from the proxy's X-Forwarded-For
    pdf_workers: int = 1
    run_worker: bool = True
    seal_key_file: Path | None = None
    seal_cert_file: Path | None = None
    stun_urls: tuple[str, ...] = ()
    turn_url: str | None = None
    turn_secret: str | None = None
    deadline_hours: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    acknowledge_hours: int = 1
    id_hash_key: str = DEVELOPMENT_ID_HASH_KEY
    log_level: str = "INFO"
    outbox_shows_links: bool = False  # development only: the outbox keeps SMS links readable
    job_lease_seconds: int = 60
    throttle_window_seconds: int = 900
    login_failures_per_account: int = 10
    login_failures_per_client: int = 30
    link_failures_per_client: int = 30


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Builds Settings from MEDIATION_* variables (and DATABASE_URL / REDIS_URL)."""
    env = os.environ if env is None else env
    base = Settings()
    var_dir = Path(env.get("MEDIATION_VAR_DIR", str(base.var_dir)))
    deadlines = dict(DEFAULT_DEADLINES)
    for name in DEFAULT_DEADLINES:
        key = f"MEDIATION_DEADLINE_{name.upper()}_HOURS"
        if key in env:
            deadlines[name] = int(env[key])
    port = int(env.get("MEDIATION_PORT", base.port))
    host = env.get("MEDIATION_HOST", base.host)
    base_url = env.get("MEDIATION_BASE_URL", f"http://{host}:{port}").rstrip("/")
    https_default = "true" if base_url.startswith("https://") else "false"
    return Settings(
        database_url=env.get("DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / 'mediation.db'}"),
        redis_url=env.get("REDIS_URL") or None,
        host=host,
        port=port,
        base_url=base_url,
        var_dir=var_dir,
        default_locale=env.get("MEDIATION_LOCALE", base.default_locale),
        mode=env.get("MEDIATION_MODE", base.mode).strip().lower(),
        session_hours=int(env.get("MEDIATION_SESSION_HOURS", base.session_hours)),
        party_link_days=int(env.get("MEDIATION_PARTY_LINK_DAYS", base.party_link_days)),
        https=_bool(env.get("MEDIATION_HTTPS", https_default)),
        trust_forwarded=_bool(env.get("MEDIATION_TRUST_FORWARDED", "false")),
        pdf_workers=int(env.get("MEDIATION_PDF_WORKERS", base.pdf_workers)),
        run_worker=_bool(env.get("MEDIATION_RUN_WORKER", "true")),
        seal_key_file=Path(env["MEDIATION_SEAL_KEY"]) if env.get("MEDIATION_SEAL_KEY") else None,
        seal_cert_file=Path(env["MEDIATION_SEAL_CERT"]) if env.get("MEDIATION_SEAL_CERT") else None,
        stun_urls=_csv(env.get("MEDIATION_STUN_URLS", "")),
        turn_url=env.get("MEDIATION_TURN_URL") or None,
        turn_secret=env.get("MEDIATION_TURN_SECRET") or None,
        deadline_hours=deadlines,
        acknowledge_hours=int(env.get("MEDIATION_ACKNOWLEDGE_HOURS", base.acknowledge_hours)),
        id_hash_key=env.get("MEDIATION_ID_HASH_KEY", base.id_hash_key),
        log_level=env.get("MEDIATION_LOG_LEVEL", base.log_level),
        outbox_shows_links=_bool(env.get("MEDIATION_OUTBOX_SHOWS_LINKS", "false")),
        job_lease_seconds=int(env.get("MEDIATION_JOB_LEASE_SECONDS", base.job_lease_seconds)),
        throttle_window_seconds=int(
            env.get("MEDIATION_THROTTLE_WINDOW_SECONDS", base.throttle_window_seconds)
        ),
        login_failures_per_account=int(
            env.get("MEDIATION_LOGIN_FAILURES_PER_ACCOUNT", base.login_failures_per_account)
        ),
        login_failures_per_client=int(
            env.get("MEDIATION_LOGIN_FAILURES_PER_CLIENT", base.login_failures_per_client)
        ),
        link_failures_per_client=int(
            env.get("MEDIATION_LINK_FAILURES_PER_CLIENT", base.link_failures_per_client)
        ),
    )


settings_key = web.AppKey("settings", Settings)
