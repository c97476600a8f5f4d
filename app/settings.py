"""Settings: the only place the environment is read (see docs/configuration.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
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
    db_pool: int = 10  # PostgreSQL connections per process, all kept open
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
    webhook_timeout_seconds: float = 10.0  # one delivery to a court system, connect to answer
    otp_minutes: int = 10  # an SMS code is valid this long
    otp_attempts: int = 5  # wrong codes before it is locked
    storage_dir: Path | None = None  # uploaded files and recordings; default var_dir/files
    throttle_window_seconds: int = 900
    login_failures_per_account: int = 10
    login_failures_per_client: int = 30
    link_failures_per_client: int = 30
    code_requests_per_client: int = 10  # SMS codes asked for (apply, lookup) per throttle window
    lookups_per_client: int = 20  # progress lookups tried per throttle window
    evidence_max_bytes: int = 10 * 1024 * 1024  # one uploaded evidence file
    due_soon_hours: int = 24  # an open case this close to its deadline raises a due-soon alarm
    sweep_minutes: int = 5  # how often the alarm sweep runs (deadlines, unacknowledged dispatches)
    followup_days: int = 30  # the follow-up visit (回访) is due this long after closing
    seal_dir: Path | None = None  # production seals per organisation: <org id>.key / <org id>.crt
    tsa_url: str | None = None  # RFC 3161 timestamp authority for seals
    room_opens_minutes_before: int = 30  # a case's room opens this long before its appointment
    room_echo_peers: int = 4  # network checks (aiortc echo peers) running at once per process
    party_cancel_notice_hours: int = 24  # a party may move or cancel up to this long before
    smtp_host: str | None = None  # email through SMTP when set; the database outbox otherwise
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "noreply@mediation.invalid"
    smtp_starttls: bool = True
    # Statutory rest days that are not weekends, and weekend days made working days (调休), for
    # the courts' periods (民事诉讼法 art. 85): the State Council's calendar, year by year.
    court_holidays: tuple[date, ...] = ()
    sms_signature: str = "人民调解"  # an SMS about no case is signed 【this】
    court_workdays: tuple[date, ...] = ()
    # The roster (挂号) and auto-assignment (issue 7): how far ahead "next free time" looks, and
    # how much an open case weighs in a mediator's load, per complexity.
    roster_days: int = 14
    load_weights: Mapping[str, int] = field(
        default_factory=lambda: {"simple": 1, "general": 2, "complex": 3, "difficult": 5}
    )
    # Issue 9 (drafting and rendering): the QR code's public origin; render workers' lifetime.
    public_base_url: str | None = None
    pdf_worker_tasks: int = 50  # a render worker is replaced after this many renders

    @property
    def public_url(self) -> str:
        """The origin parties and courts reach: printed in QR codes and party links."""
        return self.public_base_url or self.base_url


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _dates(value: str) -> tuple[date, ...]:
    """Comma-separated ISO dates (2026-10-01,2026-10-02); a range as 2026-10-01..2026-10-07."""
    days: list[date] = []
    for part in _csv(value):
        first, _, last = part.partition("..")
        start, end = date.fromisoformat(first), date.fromisoformat(last or first)
        days += [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return tuple(sorted(set(days)))


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
        db_pool=int(env.get("MEDIATION_DB_POOL", base.db_pool)),
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
        webhook_timeout_seconds=float(
            env.get("MEDIATION_WEBHOOK_TIMEOUT_SECONDS", base.webhook_timeout_seconds)
        ),
        otp_minutes=int(env.get("MEDIATION_OTP_MINUTES", base.otp_minutes)),
        otp_attempts=int(env.get("MEDIATION_OTP_ATTEMPTS", base.otp_attempts)),
        storage_dir=Path(env["MEDIATION_STORAGE_DIR"])
        if env.get("MEDIATION_STORAGE_DIR")
        else None,
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
        code_requests_per_client=int(
            env.get("MEDIATION_CODE_REQUESTS_PER_CLIENT", base.code_requests_per_client)
        ),
        lookups_per_client=int(env.get("MEDIATION_LOOKUPS_PER_CLIENT", base.lookups_per_client)),
        evidence_max_bytes=int(env.get("MEDIATION_EVIDENCE_MAX_BYTES", base.evidence_max_bytes)),
        due_soon_hours=int(env.get("MEDIATION_DUE_SOON_HOURS", base.due_soon_hours)),
        sweep_minutes=int(env.get("MEDIATION_SWEEP_MINUTES", base.sweep_minutes)),
        followup_days=int(env.get("MEDIATION_FOLLOWUP_DAYS", base.followup_days)),
        seal_dir=Path(env["MEDIATION_SEAL_DIR"]) if env.get("MEDIATION_SEAL_DIR") else None,
        tsa_url=env.get("MEDIATION_TSA_URL") or None,
        room_opens_minutes_before=int(
            env.get("MEDIATION_ROOM_OPENS_MINUTES_BEFORE", base.room_opens_minutes_before)
        ),
        room_echo_peers=int(env.get("MEDIATION_ROOM_ECHO_PEERS", base.room_echo_peers)),
        party_cancel_notice_hours=int(
            env.get("MEDIATION_PARTY_CANCEL_NOTICE_HOURS", base.party_cancel_notice_hours)
        ),
        smtp_host=env.get("MEDIATION_SMTP_HOST") or None,
        smtp_port=int(env.get("MEDIATION_SMTP_PORT", base.smtp_port)),
        smtp_user=env.get("MEDIATION_SMTP_USER") or None,
        smtp_password=env.get("MEDIATION_SMTP_PASSWORD") or None,
        smtp_from=env.get("MEDIATION_SMTP_FROM", base.smtp_from),
        smtp_starttls=_bool(env.get("MEDIATION_SMTP_STARTTLS", "true")),
        court_holidays=_dates(env.get("MEDIATION_COURT_HOLIDAYS", "")),
        court_workdays=_dates(env.get("MEDIATION_COURT_WORKDAYS", "")),
        sms_signature=env.get("MEDIATION_SMS_SIGNATURE", base.sms_signature),
        roster_days=int(env.get("MEDIATION_ROSTER_DAYS", base.roster_days)),
        load_weights=_weights(env.get("MEDIATION_LOAD_WEIGHTS"), base.load_weights),
        public_base_url=(env.get("MEDIATION_PUBLIC_BASE_URL") or "").rstrip("/") or None,
        pdf_worker_tasks=int(env.get("MEDIATION_PDF_WORKER_TASKS", base.pdf_worker_tasks)),
    )


def _weights(raw: str | None, default: Mapping[str, int]) -> Mapping[str, int]:
    """`simple=1,general=2,...`: unnamed complexities keep their default weight."""
    weights = dict(default)
    for part in _csv(raw or ""):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise ValueError(f"MEDIATION_LOAD_WEIGHTS: unknown complexity {name!r}")
        weights[name.strip()] = int(value)
    return weights


settings_key = web.AppKey("settings", Settings)
