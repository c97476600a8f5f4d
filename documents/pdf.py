"""Printable mediation agreement: HTML template → WeasyPrint → PDF/A-3b.

The whole pipeline — template, QR code, WeasyPrint (CPU- and memory-heavy, ≈ 0.3 GB peak) and
the seal — runs in the worker processes owned by ``PdfRenderer``, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import multiprocessing
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import jinja2

from documents import font_subset, pdf_streams
from documents.amounts import uppercase
from documents.qr import qr_data_uri
from documents.seal import SealKey, seal_pdf

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "documents/agreement_pdf.html"
STYLESHEET_NAME = "documents/agreement_pdf.css"
BODY_TEMPLATE = "documents/agreement_body.html"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PDF_VARIANT = "pdf/a-3b"

T = TypeVar("T")

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEX_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PartyLine:
    name: str
    role: str
    id_masked: str
    phone_masked: str
    address: str
    signature_png: bytes | None
    signed_at: datetime | None
    # art. 29 basic information; empty in agreements drafted before it was asked for
    kind: str = "person"
    sex: str = ""  # printed as given: 男 / 女
    ethnicity: str = ""
    birth_date: date | None = None
    occupation: str = ""
    credit_code: str = ""
    representative: str = ""
    agent: str = ""  # "张三（特别授权）"


@dataclass(frozen=True)
class TermDetail:
    """What a structured term adds to its text: printed after it, the text itself untouched."""

    amount: Decimal | None = None
    payer: str = ""
    payee: str = ""
    deadline: date | None = None
    manner: str = ""


@dataclass(frozen=True)
class EvidenceLine:
    """One signer's steps, printed on the evidence page (电子签名法 art. 13: provable control)."""

    name: str
    signed_at: datetime
    step_up: str  # "短信验证码 138****0003，发送 … 验证 …" or "登录会话"
    client: str  # address and browser
    session: str  # web session and link ids
    version_hash: str
    image_sha256: str


@dataclass(frozen=True)
class AgreementDoc:
    org_name: str
    case_number: str
    dispute_type: str
    parties: tuple[PartyLine, ...]
    facts: str
    # Exactly as signed, one string per term: the template numbers them and never rewrites
    # them ("三、四号楼之间的通道…" is a term about buildings three and four, not term 3).
    terms: tuple[str, ...]
    performance: str
    performance_deadline: date
    mediator_name: str
    version: int
    version_hash: str
    verify_url: str
    effective_at: datetime | None
    mediator_signature_png: bytes | None = None
    evidence: tuple[EvidenceLine, ...] = ()
    disputes: str = ""
    responsibility: str = ""
    term_details: tuple[TermDetail, ...] = ()  # of terms[: len(term_details)]; the rest are free
    # The boilerplate from the template store (documents/template_store.py), frozen in the
    # signed content; agreements drafted before the store print the built-in wording.
    title: str = "人民调解协议书"
    preamble: tuple[str, ...] = ()
    closing_title: str = ""
    closing: tuple[str, ...] = ()  # none: the built-in clauses of agreements drafted before

    def __post_init__(self) -> None:
        if isinstance(self.terms, str):  # each character would print as a term of its own
            raise TypeError("AgreementDoc.terms is a tuple of terms, not one string")


def format_date(value: date | datetime) -> str:
    """2026年11月20日; aware datetimes are shown in Asia/Shanghai."""
    if isinstance(value, datetime):
        value = _local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def format_datetime(value: datetime) -> str:
    """2026年11月20日 14:05 (Asia/Shanghai)."""
    local = _local(value)
    return f"{format_date(local)} {local:%H:%M}"


def _local(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("document timestamps must be timezone-aware")
    return value.astimezone(LOCAL_TZ)


def _paragraphs(text: str) -> list[str]:
    """One paragraph per line, each verbatim; blank lines only separate paragraphs."""
    return [line for line in text.splitlines() if line.strip()]


def _png_data_uri(png: bytes) -> str:
    # Only PNG is embedded: anything else would be passed to an image decoder unchecked.
    if not png.startswith(_PNG_MAGIC):
        raise ValueError("signature image is not a PNG")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def seal_chars(name: str, span: float = 250.0) -> list[tuple[str, float]]:
    """The seal's characters with their angles (degrees from the top), spread over `span`."""
    chars = [c for c in name if not c.isspace()][:24]
    if len(chars) < 2:
        return [(c, 0.0) for c in chars]
    step = min(span / (len(chars) - 1), 24.0)
    first = -step * (len(chars) - 1) / 2
    return [(c, round(first + i * step, 2)) for i, c in enumerate(chars)]


def format_amount(amount: Decimal) -> str:
    """人民币8,000.00元（大写：人民币捌仟元整）"""
    return f"人民币{amount:,.2f}元（大写：人民币{uppercase(amount)}）"


def _term_detail(detail: TermDetail) -> str:
    parts = []
    if detail.amount is not None:
        parts.append(f"金额：{format_amount(detail.amount)}")
    if detail.payer:
        parts.append(f"付款方：{detail.payer}")
    if detail.payee:
        parts.append(f"收款方：{detail.payee}")
    if detail.deadline:
        parts.append(f"履行期限：{format_date(detail.deadline)}前")
    if detail.manner:
        parts.append(f"履行方式：{detail.manner}")
    return "；".join(parts)


def _party(p: PartyLine) -> dict[str, Any]:
    return {
        "name": p.name,
        "role": p.role,
        "kind": p.kind,
        "id_masked": p.id_masked,
        "phone_masked": p.phone_masked,
        "address": p.address,
        "sex": p.sex,
        "ethnicity": p.ethnicity,
        "birth_date": format_date(p.birth_date) if p.birth_date else "",
        "occupation": p.occupation,
        "credit_code": p.credit_code,
        "representative": p.representative,
        "agent": p.agent,
        "signature_src": _png_data_uri(p.signature_png) if p.signature_png else None,
        "signed_at": format_datetime(p.signed_at) if p.signed_at else None,
    }


def body_context(doc: AgreementDoc) -> dict[str, Any]:
    """What the agreement's body (parties to performance) needs: the PDF and the live preview."""
    details = [_term_detail(d) for d in doc.term_details]
    return {
        "doc": doc,
        "parties": [_party(p) for p in doc.parties],
        "facts": _paragraphs(doc.facts),
        "disputes": _paragraphs(doc.disputes),
        "responsibility": _paragraphs(doc.responsibility),
        "terms": [(t, details[i] if i < len(details) else "") for i, t in enumerate(doc.terms)],
        "performance": _paragraphs(doc.performance),
        "deadline": format_date(doc.performance_deadline),
    }


def _context(doc: AgreementDoc) -> dict[str, Any]:
    if not _HEX_RE.fullmatch(doc.version_hash):
        raise ValueError("version_hash must be a lowercase sha256 hex digest")
    return {
        **body_context(doc),
        "effective_at": format_date(doc.effective_at) if doc.effective_at else None,
        "hash_short": doc.version_hash[:16],
        "seal_chars": seal_chars(doc.org_name),
        "evidence": [{"line": e, "signed_at": format_datetime(e.signed_at)} for e in doc.evidence],
        "qr_src": qr_data_uri(doc.verify_url),
        "mediator_signature_src": (
            _png_data_uri(doc.mediator_signature_png) if doc.mediator_signature_png else None
        ),
    }


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def agreement_html(doc: AgreementDoc, *, inline_css: bool = True) -> str:
    """The printable agreement as a standalone HTML page (everything inline); without its
    stylesheet when ``inline_css`` is false (the render worker applies it parsed once)."""
    return _environment().get_template(TEMPLATE_NAME).render(_context(doc), inline_css=inline_css)


def body_html(doc: AgreementDoc) -> str:
    """The agreement's body alone, as the PDF prints it (the drafting page's live preview)."""
    return _environment().get_template(BODY_TEMPLATE).render(body_context(doc))


def html_to_pdfa(
    html: str, attachments: Sequence[tuple[str, bytes, str]], stylesheets: Sequence[Any] = ()
) -> bytes:
    """Render self-contained HTML to PDF/A-3b with embedded fonts and file attachments.

    Attachments are ``(filename, data, description)``; they are marked as the document's
    ``/AF`` data files, as PDF/A-3 requires. Only ``data:`` URLs are fetched: the HTML
    carries user input and must never make the renderer reach the network or the disk.
    """
    import weasyprint

    font_subset.install()
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols=("data",))
    now = datetime.now(UTC)
    pdf_attachments = [
        weasyprint.Attachment(
            string=data,
            name=name,
            description=description,
            relationship="Data",
            # WeasyPrint writes these with a "Z" suffix, so they must be UTC, not local naive.
            created=now,
            modified=now,
            url_fetcher=fetcher,
        )
        for name, data, description in attachments
    ]
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    pdf = document.write_pdf(
        stylesheets=list(stylesheets),
        pdf_variant=PDF_VARIANT,
        attachments=pdf_attachments,
        finisher=_finish_pdfa,
        font_config=_font_config(),
    )
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf() without target returns bytes
        raise TypeError("WeasyPrint returned no PDF")
    return pdf


@functools.cache
def _font_config() -> Any:
    """One Fontconfig/Pango font map per process, kept warm across renders.

    WeasyPrint builds a new one per document unless given one: every render would look the
    fonts up again and reopen the CJK faces (≈ 50 ms of the ≈ 450 ms render). The documents
    declare no ``@font-face`` (fonts by name only), so nothing from one document stays in it
    for the next but the system's faces and the size caches.
    """
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@functools.cache
def _agreement_stylesheet() -> Any:
    """The agreement's stylesheet, parsed once per process instead of in every render's HTML
    (≈ 6–10 ms a render). Applied as a user stylesheet: it has no ``!important`` and the
    page has no other stylesheet, so nothing cascades differently (the seal's ``style``
    attributes win either way); ``tests/documents/test_pdf.py`` compares the pages drawn."""
    import weasyprint

    return weasyprint.CSS(
        string=(TEMPLATES_DIR / STYLESHEET_NAME).read_text(encoding="utf-8"),
        url_fetcher=weasyprint.urls.URLFetcher(allowed_protocols=("data",)),
        font_config=_font_config(),
    )


def agreement_pdf(doc: AgreementDoc, attachments: Sequence[tuple[str, bytes, str]]) -> bytes:
    """The agreement as the render worker prints it: ``agreement_html``'s page, stylesheet apart."""
    return html_to_pdfa(
        agreement_html(doc, inline_css=False), attachments, (_agreement_stylesheet(),)
    )


def _finish_pdfa(_document: Any, pdf: Any) -> None:
    # WeasyPrint 70 lists each attachment twice in the catalog's /AF array (once from the
    # EmbeddedFiles name tree, once from the Filespec scan); keep one entry per file.
    af = pdf.catalog.get("AF")
    if af:
        af[:] = list(dict.fromkeys(af))
    # PDF/A requires Info entries to equal their XMP twins. When sealing, pyHanko rewrites the
    # XMP pdf:Producer but *appends* to an existing Info /Producer, so the sealed file would
    # disagree with itself; without an Info /Producer both end up identical.
    pdf.info.pop("Producer", None)
    pdf_streams.serialise_once(pdf)  # last: nothing may change a stream after this


_WARM_UP_HTML = (
    '<html lang="zh-CN"><body style="font-family: \'Noto Serif CJK SC\'">'
    "人民调解协议书</body></html>"
)


def _init_worker() -> None:
    # Pays the ≈ 1 s import and the font-config/face loading once per worker, not per render.
    html_to_pdfa(_WARM_UP_HTML, (), (_agreement_stylesheet(),))


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    worker_peak_rss_kb: int  # the worker process's high-water mark so far (ru_maxrss)
    cpu_ms: float  # the worker's CPU time for this task: unlike wall time, not another's load


def _peak_rss_kb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def render_in_worker(doc: AgreementDoc, attachments: Sequence[tuple[str, bytes, str]]) -> Rendered:
    """Template → QR code → WeasyPrint, all in the worker process (nothing on the event loop)."""
    started = time.process_time()
    pdf = agreement_pdf(doc, attachments)
    return Rendered(pdf, _peak_rss_kb(), (time.process_time() - started) * 1000)


def render_and_seal_in_worker(
    doc: AgreementDoc,
    attachments: Sequence[tuple[str, bytes, str]],
    key: SealKey,
    tsa_url: str | None,
) -> Rendered:
    """The whole pipeline of a sealed agreement in the worker: render, then the PAdES seal."""
    started = time.process_time()
    sealed = seal_pdf(agreement_pdf(doc, attachments), key, tsa_url=tsa_url)
    return Rendered(sealed, _peak_rss_kb(), (time.process_time() - started) * 1000)


class PdfRenderer:
    """A bounded pool of long-lived render processes.

    Spawned, not forked: the parent runs an asyncio loop and threads whose locks a fork would
    copy in a held state. A worker that dies (e.g. killed for memory) breaks the whole
    ``ProcessPoolExecutor``; the render that saw it fails and the pool is rebuilt for the next.
    Workers are replaced after ``max_tasks_per_child`` renders each, which bounds what
    WeasyPrint's caches and the allocator's fragmentation can grow to; ``worker_peak_rss_kb``
    reports the high-water mark the last render saw. The replacement is a new pool: the old one
    finishes what it was given and exits. (Python 3.11's own ``max_tasks_per_child`` hangs when a
    worker retires while tasks wait in the queue: every render after it waits forever.)
    """

    def __init__(self, max_workers: int = 1, max_tasks_per_child: int | None = None) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._tasks_per_pool = max_tasks_per_child and max_tasks_per_child * max_workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = self._new_pool()
        self._pool_tasks = 0
        self.renders = 0
        self.worker_peak_rss_kb = 0
        self.worker_cpu_ms = 0.0  # of the last render

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self._max_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self._pool
        if pool is None:
            raise RuntimeError("PdfRenderer is closed")
        future = asyncio.get_running_loop().run_in_executor(pool, fn, *args)  # submitted now
        self._pool_tasks += 1
        if self._tasks_per_pool and self._pool_tasks >= self._tasks_per_pool:
            self._pool, self._pool_tasks = self._new_pool(), 0
            pool.shutdown(wait=False)  # runs the tasks it holds, then its workers exit
        try:
            return await future
        except BrokenProcessPool:
            if self._pool is pool:  # not already replaced by a concurrent render, not closed
                self._pool, self._pool_tasks = self._new_pool(), 0
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    async def warm_up(self) -> None:
        """Start a worker now (e.g. at app start-up) so the first real render is warm."""
        await self._run(_noop)

    def _count(self, rendered: Rendered) -> bytes:
        self.renders += 1
        self.worker_peak_rss_kb = rendered.worker_peak_rss_kb
        self.worker_cpu_ms = rendered.cpu_ms
        return rendered.pdf

    async def render(
        self, doc: AgreementDoc, attachments: Sequence[tuple[str, bytes, str]]
    ) -> bytes:
        return self._count(await self._run(render_in_worker, doc, tuple(attachments)))

    async def render_and_seal(
        self,
        doc: AgreementDoc,
        attachments: Sequence[tuple[str, bytes, str]],
        key: SealKey,
        tsa_url: str | None = None,
    ) -> bytes:
        rendered = await self._run(render_and_seal_in_worker, doc, tuple(attachments), key, tsa_url)
        return self._count(rendered)

    async def render_html(self, html: str, attachments: Sequence[tuple[str, bytes, str]]) -> bytes:
        """Any other self-contained document page (documents/case_pdf.py) in the same workers."""
        return await self._run(html_to_pdfa, html, tuple(attachments))

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _noop() -> None:
    return None
