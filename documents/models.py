"""Agreements (versioned, hashed), signatures bound to a version, sealed PDFs, court filings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Agreement(Base):
    __tablename__ = "agreements"
    __table_args__ = (UniqueConstraint("case_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    version_hash: Mapped[str] = mapped_column(String(64))
    # signing → sealing (everyone signed, the committee's seal pending) → effective; or void
    status: Mapped[str] = mapped_column(String(16), default="signing")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def ceremony_key(self) -> str:
        """What its signing codes are bound to (documents/ceremony.py)."""
        return str(self.id)


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("agreement_id", "signer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    signer: Mapped[str] = mapped_column(String(32))  # party:7 | staff:3
    version_hash: Mapped[str] = mapped_column(String(64))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)  # ip, user agent, session, image hash
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningDecline(Base):
    """A signer's refusal to sign a version, with the reason, for the mediator to act on."""

    __tablename__ = "signing_declines"
    __table_args__ = (UniqueConstraint("agreement_id", "signer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    signer: Mapped[str] = mapped_column(String(32))
    version_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    declined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeRequest(Base):
    """A party's request, during review, that the mediator change one clause of a version."""

    __tablename__ = "change_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    requester: Mapped[str] = mapped_column(String(32))  # party:7
    clause: Mapped[int] = mapped_column(Integer)  # the term's number, from 1
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SealedPdf(Base):
    __tablename__ = "sealed_pdfs"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CourtFiling(Base):
    """One application for judicial confirmation, from filing to the ruling (documents/court.py,
    documents/court_review.py). Statuses: filed → accepted | not_accepted | supplement (back to
    the mediator, then filed again); accepted → confirmed | dismissed; filed, supplement or
    accepted → withdrawn by a party. An agreement has at most one live filing: after one was not
    accepted or withdrawn it may be filed again (with the competent court)."""

    __tablename__ = "court_filings"
    __table_args__ = (
        UniqueConstraint("court_org_id", "court_case_number"),
        Index(
            "ix_court_filings_live_agreement",
            "agreement_id",
            unique=True,
            sqlite_where=text("status NOT IN ('not_accepted', 'withdrawn')"),
            postgresql_where=text("status NOT IN ('not_accepted', 'withdrawn')"),
        ),
        Index("ix_court_filings_queue", "court_org_id", "status", "ruling_due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    court_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(16), default="filed")
    filed_by: Mapped[str] = mapped_column(String(32))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The clerk's pre-review: accepted (受理, with the court's case number), not accepted
    # (不予受理) or a supplement requested (补正), with the note the mediator and parties read.
    court_case_number: Mapped[str | None] = mapped_column(String(40))
    reviewed_by: Mapped[str | None] = mapped_column(String(32))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    resubmitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The statutory clock: 15 days from acceptance, once extended by 10 with its approval.
    ruling_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extended_by: Mapped[str | None] = mapped_column(String(32))
    extension_approved_by: Mapped[str | None] = mapped_column(String(64))
    extension_note: Mapped[str | None] = mapped_column(Text)
    # The judge's ruling (裁定) with its reasons.
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    withdrawn_by: Mapped[str | None] = mapped_column(String(32))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_note: Mapped[str | None] = mapped_column(Text)
    # The ruling (民事裁定书) as the court sealed it (documents/ruling.py), filled once by its job.
    ruling_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    ruling_storage_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    ruling_sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The parties' signed joint application it files, and why this court (documents/venue.py).
    application_id: Mapped[int | None] = mapped_column(ForeignKey("joint_applications.id"))
    court_basis: Mapped[str | None] = mapped_column(String(16))
    court_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def enforceable(self) -> bool:
        """A confirmed agreement has the force of a judgment (民事诉讼法 art. 206)."""
        return self.status == "confirmed"


class JointApplication(Base):
    """The parties' joint application for judicial confirmation (司法确认申请书) of an effective
    agreement (documents/application.py): generated with its competent court, signed by every
    party through the signing ceremony, then sealed. Statuses: signing → sealing (every party
    signed, the PDF pending) → sealed; or void (the mediator prepared a new one)."""

    __tablename__ = "joint_applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    court_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    court_basis: Mapped[str] = mapped_column(String(16))  # mediation_org|domicile|subject
    court_reason: Mapped[str | None] = mapped_column(Text)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    version_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="signing")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    storage_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def ceremony_key(self) -> str:
        """Codes for an application never open an agreement with the same id."""
        return f"application-{self.id}"


class ApplicationSignature(Base):
    __tablename__ = "application_signatures"
    __table_args__ = (UniqueConstraint("application_id", "signer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("joint_applications.id"), index=True)
    signer: Mapped[str] = mapped_column(String(32))  # party:7
    version_hash: Mapped[str] = mapped_column(String(64))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationDecline(Base):
    """A party's refusal to sign a joint application, with the reason."""

    __tablename__ = "application_declines"
    __table_args__ = (UniqueConstraint("application_id", "signer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("joint_applications.id"), index=True)
    signer: Mapped[str] = mapped_column(String(32))
    version_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    declined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceReceipt(Base):
    """Electronic service (电子送达) of a filing's ruling: when each party first opened it."""

    __tablename__ = "service_receipts"
    __table_args__ = (UniqueConstraint("filing_id", "party_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("court_filings.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- issue 9 part 2: the template store and the documents produced from a case ---------------


class DocumentTemplate(Base):
    """One version of an admin-edited template (documents/template_store.py). Versions are never
    updated: an edit inserts the next version. `dispute_type` "" is the kind's default."""

    __tablename__ = "document_templates"
    __table_args__ = (UniqueConstraint("kind", "dispute_type", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    dispute_type: Mapped[str] = mapped_column(String(32), default="")
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseDocument(Base):
    """A sealed document of a case other than the agreement: minutes, the record of an oral
    agreement, the termination notice, the archive (卷宗). Requested with its content (the row),
    then rendered and sealed once by a job, which fills `sha256`/`storage_key` conditionally."""

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "kind", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # minutes|oral_agreement|termination|archive
    version: Mapped[int] = mapped_column(Integer)
    # The template version that produced it; NULL with template_version 0: the built-in default.
    template_id: Mapped[int | None] = mapped_column(ForeignKey("document_templates.id"))
    template_version: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    storage_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- issue 10: the packet that goes to the court with a filing ------------------------------


class CourtPacket(Base):
    """One version of a filing's packet for the court (documents/packet.py): a ZIP of the
    application's files with a signed manifest. The row is reserved with the filing (version 1)
    and with each resubmission after a supplement (the next version), in that transaction; the
    assembly job fills `sha256`/`size`/`storage_key` once, by a conditional UPDATE."""

    __tablename__ = "court_packets"
    __table_args__ = (UniqueConstraint("filing_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("court_filings.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    size: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    assembled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
