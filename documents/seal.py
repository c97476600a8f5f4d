"""The committee's electronic seal: PAdES baseline-B signatures with pyHanko, and their check.

The seal is applied last, over the finished PDF/A; anything appended after it counts as a change
and is reported (``SealCheck.later_revisions``), metadata included. (Nothing here appends
validation data; if long-term validation is added, count those revisions separately.)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import functools
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import attributes, fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import constants
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

log = logging.getLogger(__name__)

KEY_FILE = "seal-key.pem"
CERT_FILE = "seal-cert.pem"
DEV_CERT_DAYS = 3650
DEFAULT_REASON = "人民调解委员会电子印章"
DEV_SUFFIX = " (development seal)"


@dataclass(frozen=True)
class SealKey:
    key_pem: bytes
    cert_pem: bytes  # the seal certificate first, then any intermediates up to (excluding) root

    @property
    def cert(self) -> asn1_x509.Certificate:
        return _asn1_certs(self.cert_pem)[0]

    @property
    def chain(self) -> list[asn1_x509.Certificate]:
        return _asn1_certs(self.cert_pem)

    @property
    def subject_cn(self) -> str | None:
        return _common_name(self.cert)


def _asn1_certs(pem: bytes) -> list[asn1_x509.Certificate]:
    certs = x509.load_pem_x509_certificates(pem)  # raises unless there is at least one
    return [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs]


def _common_name(cert: asn1_x509.Certificate) -> str | None:
    cn = cert.subject.native.get("common_name")
    return str(cn) if cn else None


def load_key(key_pem: bytes, cert_pem: bytes) -> SealKey:
    """Check that the key and the (first) certificate belong together; return the seal key.

    ``cert_pem`` may continue with intermediate CA certificates; they are embedded in each seal
    so that a verifier holding only the root can build the chain.
    """
    key = serialization.load_pem_private_key(key_pem, password=None)
    cert = x509.load_pem_x509_certificates(cert_pem)[0]
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("seal key must be an EC or RSA private key")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise ValueError("seal key does not match the seal certificate")
    return SealKey(key_pem=key_pem, cert_pem=cert_pem)


def ensure_dev_key(directory: Path, org_name: str) -> SealKey:
    """Load the development seal from ``directory``, creating it on first use.

    Several app processes may start at once: a lock file serialises the first generation.
    An existing key is never replaced; only a missing certificate is re-issued for it.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
    with _locked(directory / ".seal.lock"):
        if key_path.exists() and cert_path.exists():
            return load_key(key_path.read_bytes(), cert_path.read_bytes())
        if cert_path.exists():
            raise RuntimeError(f"{cert_path} exists but its key {key_path} is missing")
        if key_path.exists():
            key_pem = key_path.read_bytes()
            private_key = serialization.load_pem_private_key(key_pem, password=None)
            if not isinstance(private_key, ec.EllipticCurvePrivateKey):
                raise RuntimeError(f"{key_path} is not an EC key")
        else:
            private_key = ec.generate_private_key(ec.SECP256R1())
            key_pem = private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_atomic(key_path, key_pem, mode=0o600)
        common_name = _fit(org_name, 64 - len(DEV_SUFFIX)) + DEV_SUFFIX
        cert_pem = _self_signed_cert(private_key, common_name, _fit(org_name, 64))
        _write_atomic(cert_path, cert_pem, mode=0o644)
        log.warning("generated a self-signed development seal in %s", directory)
        return load_key(key_pem, cert_pem)


def _fit(text: str, limit: int) -> str:
    # X.520 limits names to 64 (UTF-8 encoded, as cryptography counts them); a long committee
    # name is cut at a character boundary.
    while len(text.encode()) > limit:
        text = text[:-1]
    return text


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask and ignored for old files
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _self_signed_cert(key: ec.EllipticCurvePrivateKey, common_name: str, org_name: str) -> bytes:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=DEV_CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # = nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class _Prebuilt(attributes.CMSAttributeProvider):
    def __init__(self, attribute_type: str, value: object) -> None:
        self.attribute_type = attribute_type
        self.value = value

    async def build_attr_value(self, dry_run: bool = False) -> object:
        return self.value


class _SealSigner(signers.SimpleSigner):
    """Signs with the signing-certificate-v2 attribute built once, as parsed DER.

    pyHanko builds it anew for every signature, and asn1crypto re-encodes a value built from
    Python objects every time it is read (it counts as changed, never cached), at every level
    of its nesting: dumping the signed attributes cost ≈ 12 ms of a ≈ 37 ms seal, and the
    signature's packaging as much again. The attribute identifies the certificate only
    (RFC 5035: its SHA-256 and issuer/serial), so one per key serves every seal; the bytes are
    the same as pyHanko's.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        built = as_signing_certificate_v2(self.signing_cert)
        self._signing_certificate_v2 = tsp.SigningCertificateV2.load(built.dump())

    def _signed_attr_providers(self, *args: object, **kwargs: object) -> Iterator[object]:
        for provider in super()._signed_attr_providers(*args, **kwargs):  # type: ignore[arg-type]
            if isinstance(provider, attributes.SigningCertificateV2Provider):
                yield _Prebuilt(provider.attribute_type, self._signing_certificate_v2)
            else:
                yield provider


@functools.lru_cache(maxsize=16)
def _signer(key: SealKey) -> signers.SimpleSigner:
    """Parsed once per process and key (a render worker seals with the same few keys)."""
    chain = key.chain
    return _SealSigner(
        signing_cert=chain[0],
        signing_key=load_private_key_from_pemder_data(key.key_pem, passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(chain[1:]),  # the leaf is added anyway
    )


def _require_worker_thread(name: str) -> None:
    # pyHanko's synchronous API wraps its async core in asyncio.run(), which fails inside a
    # running loop; verify_pdf would then misreport a good seal as broken. Fail loudly instead.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{name}() blocks: call it through run_in_executor, not in a coroutine")


class _Pdf17Signer(signers.PdfSigner):
    """Declares PAdES through the ESIC extension only, as PDF 1.7 does. pyHanko would also
    announce ISO 32002 for ECDSA on P-256 and so raise the file's version to 2.0, which a
    PDF/A-3 file (based on PDF 1.7) must not declare."""

    def register_extensions(self, pdf_out: BasePdfFileWriter, *, md_algorithm: str) -> None:
        pdf_out.ensure_output_version(version=(1, 7))
        pdf_out.register_extension(constants.ESIC_EXTENSION_1)


def seal_pdf(
    pdf: bytes,
    key: SealKey,
    *,
    reason: str = DEFAULT_REASON,
    field_name: str = "Seal",
    tsa_url: str | None = None,
) -> bytes:
    """Append a PAdES signature (an invisible, print-flagged field, PDF/A-safe): baseline-B,
    or baseline-T with an RFC 3161 timestamp from ``tsa_url``."""
    _require_worker_thread("seal_pdf")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        reason=reason,
        name=key.subject_cn,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    timestamper = RequestsHTTPTimeStamper(tsa_url, timeout=10) if tsa_url else None
    signer = _Pdf17Signer(meta, signer=_signer(key), timestamper=timestamper)
    # A timestamp's size is the authority's to choose: pyHanko estimates it by a dry run.
    reserved = None if tsa_url else _reserved_bytes(key)
    return signer.sign_pdf(writer, bytes_reserved=reserved).getvalue()


@functools.lru_cache(maxsize=16)
def _reserved_bytes(key: SealKey) -> int:
    """Room for a baseline-B CMS signed by ``key``, in hex digits.

    Without it pyHanko sizes the room by signing a dummy document first, which doubles the
    CMS work of every seal (≈ 20 ms). What varies with the key: the certificates embedded, the
    issuer's name (twice more, in the signer id and the signing-certificate attribute) and the
    signature (≤ 2 × the key size for ECDSA); 1 KB covers the rest of the attributes and
    wrappers. Too small a room fails the seal loudly (pyHanko raises), never silently.
    """
    chain = key.chain
    certs = sum(len(cert.dump()) for cert in chain)
    issuer = len(chain[0].issuer.dump())
    signature = 2 * chain[0].public_key.byte_size
    return 2 * (certs + 2 * issuer + signature + 1024)


@dataclass(frozen=True)
class SealCheck:
    sealed: bool
    intact: bool
    trusted: bool
    signer: str | None
    signed_at: dt.datetime | None
    timestamped_at: dt.datetime | None = None  # from a trusted RFC 3161 timestamp, when present
    later_revisions: int = 0  # incremental updates appended after the seal, of any kind

    def ok(self) -> bool:
        return self.sealed and self.intact and self.trusted and self.later_revisions == 0


NOT_SEALED = SealCheck(sealed=False, intact=False, trusted=False, signer=None, signed_at=None)

# Updates a later validator may legitimately append without touching the content.
_HARMLESS_UPDATES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


def verify_pdf(pdf: bytes, trust_root_pem: bytes) -> SealCheck:
    """Check the last signature in ``pdf`` against ``trust_root_pem`` (one or more PEM
    certificates). Never raises on bad input: an unusable trust root only means untrusted.

    Runs pyHanko's own event loop (``asyncio.run``): call it from a worker thread or process,
    not from a coroutine (that raises ``RuntimeError``).
    """
    _require_worker_thread("verify_pdf")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except Exception:  # garbage input: pyHanko raises many different types here
        log.info("verify_pdf: unreadable PDF", exc_info=True)
        return NOT_SEALED
    if not embedded:
        return NOT_SEALED
    sig = embedded[-1]
    # Anything appended after the seal is reported, metadata included: pyHanko's difference
    # analysis accepts an Info-only update (a new title) as "no modification".
    later = reader.xrefs.total_revisions - 1 - sig.signed_revision
    try:
        signer = _common_name(sig.signer_cert)
    except Exception:
        signer = None
    try:
        roots = _asn1_certs(trust_root_pem)
    except ValueError:
        log.warning("verify_pdf: the trust root is not a PEM certificate")
        roots = []  # an explicit empty list: never pyHanko's fallback to the OS trust store
    try:
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = validate_pdf_signature(sig, context)
    except Exception:
        log.info("verify_pdf: signature could not be validated", exc_info=True)
        return SealCheck(
            sealed=True,
            intact=False,
            trusted=False,
            signer=signer,
            signed_at=None,
            later_revisions=later,
        )
    return SealCheck(
        sealed=True,
        intact=_intact(status),
        trusted=status.trusted,
        signer=signer,
        signed_at=status.signer_reported_dt,
        timestamped_at=_timestamp(status),
        later_revisions=later,
    )


def _timestamp(status: PdfSignatureStatus) -> dt.datetime | None:
    stamp = status.timestamp_validity
    if stamp is None or not (stamp.intact and stamp.valid and stamp.trusted):
        return None
    return stamp.timestamp


def _intact(status: PdfSignatureStatus) -> bool:
    if not (status.intact and status.valid):
        return False
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return True
    return (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and status.modification_level in _HARMLESS_UPDATES
        and bool(status.docmdp_ok)
    )
