"""The committee's electronic seal over the rendered agreement, and its verification."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import stat
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import as_signing_certificate_v2
from pypdf import PdfReader

from documents.pdf import AgreementDoc, PartyLine, agreement_html, html_to_pdfa
from documents.seal import SealKey, ensure_dev_key, load_key, seal_pdf, verify_pdf

ORG = "吴江区松陵街道人民调解委员会"
AGREEMENT_JSON = b'{"case_number": "(2026)0001", "version": 1}'


def agreement() -> AgreementDoc:
    party = PartyLine(
        name="王秀兰",
        role="申请人",
        id_masked="3205**********1234",
        phone_masked="138****5678",
        address="苏州市吴江区",
        signature_png=None,
        signed_at=None,
    )
    return AgreementDoc(
        org_name=ORG,
        case_number="（2026）吴矛调字第0002号",
        dispute_type="邻里纠纷",
        parties=(party, PartyLine(**{**party.__dict__, "name": "李建国", "role": "被申请人"})),
        facts="双方因漏水发生纠纷。",
        terms=("被申请人赔偿三千元",),
        performance="银行转账",
        performance_deadline=date(2026, 12, 31),
        mediator_name="张明",
        version=1,
        version_hash="ab" * 32,
        verify_url="https://mediation.example.cn/verify/abab",
        effective_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SealKey:
    return ensure_dev_key(tmp_path_factory.mktemp("seal"), ORG)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return html_to_pdfa(
        agreement_html(agreement()), [("agreement.json", AGREEMENT_JSON, "协议数据")]
    )


@pytest.fixture(scope="module")
def sealed(pdf: bytes, key: SealKey) -> bytes:
    return seal_pdf(pdf, key)


def test_dev_key_is_generated_once_and_reloaded(tmp_path: Path) -> None:
    first = ensure_dev_key(tmp_path / "keys", ORG)
    second = ensure_dev_key(tmp_path / "keys", ORG)
    assert second == first
    key_file = tmp_path / "keys" / "seal-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes() == first.key_pem

    cert = x509.load_pem_x509_certificate(first.cert_pem)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == f"{ORG} (development seal)"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime > timedelta(days=3649)


def test_dev_key_reissues_a_lost_certificate_for_the_same_key(tmp_path: Path) -> None:
    first = ensure_dev_key(tmp_path, ORG)
    (tmp_path / "seal-cert.pem").unlink()
    again = ensure_dev_key(tmp_path, ORG)
    assert again.key_pem == first.key_pem
    assert again.cert_pem != first.cert_pem


def test_load_key_rejects_a_certificate_of_another_key(tmp_path: Path) -> None:
    a = ensure_dev_key(tmp_path / "a", ORG)
    b = ensure_dev_key(tmp_path / "b", ORG)
    assert load_key(a.key_pem, a.cert_pem) == a
    with pytest.raises(ValueError, match="does not match"):
        load_key(a.key_pem, b.cert_pem)


def test_sealed_pdf_verifies(sealed: bytes, key: SealKey) -> None:
    check = verify_pdf(sealed, key.cert_pem)
    assert check.ok()
    assert (check.sealed, check.intact, check.trusted) == (True, True, True)
    assert check.signer == f"{ORG} (development seal)"
    assert check.signed_at is not None
    assert abs(datetime.now(UTC) - check.signed_at) < timedelta(minutes=5)


def test_pdfsig_sees_a_valid_pades_signature(sealed: bytes, tmp_path: Path) -> None:
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    pdfsig = shutil.which("pdfsig")
    assert pdfsig, "pdfsig (poppler-utils) is not installed"
    # No check=True: pdfsig exits non-zero when the signer is not in its NSS store (self-signed
    # here). Fixed tool and arguments, no shell.
    out = subprocess.run([pdfsig, str(path)], capture_output=True, check=False)
    text = out.stdout.decode()
    assert "Signature Field Name: Seal" in text
    assert "Signature Type: ETSI.CAdES.detached" in text
    assert "Signature Validation: Signature is Valid." in text
    assert "Total document signed" in text


def test_the_signing_certificate_attribute_is_pyhankos_and_serves_every_seal(
    pdf: bytes, key: SealKey
) -> None:
    # Built once per key (documents/seal.py, _SealSigner): the same bytes pyHanko would build,
    # in each seal of the same signer over different documents, each verifying on its own.
    expected = as_signing_certificate_v2(key.cert).dump()
    other = html_to_pdfa(agreement_html(replace(agreement(), terms=("被申请人赔偿五千元",))), ())
    for document in (pdf, other, pdf):
        sealed = seal_pdf(document, key)
        signature = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[-1]
        attrs = {a["type"].native: a for a in signature.signer_info["signed_attrs"]}
        assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}
        assert attrs["signing_certificate_v2"]["values"][0].dump(force=True) == expected
        assert verify_pdf(sealed, key.cert_pem).ok()


def test_sealing_keeps_pdfa_metadata_and_attachment(sealed: bytes) -> None:
    reader = PdfReader(io.BytesIO(sealed))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp)
    # PDF/A: the Info dictionary must agree with the XMP it duplicates.
    producer = reader.trailer["/Info"]["/Producer"]
    assert re.search(rf'pdf:Producer(="|>){re.escape(producer)}(["<])', xmp), (producer, xmp)
    assert reader.attachments["agreement.json"] == [AGREEMENT_JSON]


def test_unsealed_pdf_is_not_sealed(pdf: bytes, key: SealKey) -> None:
    check = verify_pdf(pdf, key.cert_pem)
    assert not check.sealed
    assert not check.ok()


def test_changed_byte_inside_signed_range_breaks_integrity(sealed: bytes, key: SealKey) -> None:
    # The Info dictionary's /Creator (written as "mediation\055room") lies in the first,
    # signed revision; change its last letter.
    at = sealed.index(b"room)", sealed.index(b"/Creator (")) + 3
    assert at < sealed.index(b"/ByteRange")
    tampered = sealed[:at] + b"n" + sealed[at + 1 :]
    assert len(tampered) == len(sealed) and tampered != sealed
    check = verify_pdf(tampered, key.cert_pem)
    assert check.sealed
    assert not check.intact
    assert not check.ok()


def test_content_appended_after_sealing_is_detected(sealed: bytes, key: SealKey) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    forged = generic.StreamObject(stream_data=b"q 0 0 1 rg 100 100 200 50 re f Q")
    writer.add_stream_to_page(0, writer.add_object(forged))
    out = io.BytesIO()
    writer.write(out)
    modified = out.getvalue()
    assert modified.startswith(sealed)

    check = verify_pdf(modified, key.cert_pem)
    assert check.sealed
    assert check.trusted  # the seal itself is still genuine ...
    assert not check.intact  # ... but it no longer covers what the file shows
    assert not check.ok()


def test_other_trust_root_is_not_trusted(sealed: bytes, tmp_path: Path) -> None:
    stranger = ensure_dev_key(tmp_path, "另一个调解委员会")
    check = verify_pdf(sealed, stranger.cert_pem)
    assert check.sealed and check.intact
    assert not check.trusted
    assert not check.ok()


@pytest.mark.parametrize(
    "blob",
    [b"", b"garbage", b"%PDF-1.7\n%%EOF", b"%PDF-1.7\n" + bytes(range(256)) * 8],
)
def test_garbage_is_not_sealed(blob: bytes, key: SealKey) -> None:
    check = verify_pdf(blob, key.cert_pem)
    assert not check.sealed
    assert not check.ok()


def test_truncated_sealed_pdf_does_not_raise(sealed: bytes, key: SealKey) -> None:
    for cut in (len(sealed) // 2, len(sealed) - 100):
        assert not verify_pdf(sealed[:cut], key.cert_pem).ok()


def test_garbage_trust_root_does_not_raise(sealed: bytes) -> None:
    check = verify_pdf(sealed, b"not a certificate")
    assert check.sealed and check.intact
    assert not check.trusted
    assert not check.ok()


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey],
    *,
    is_ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, issuer[0])]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=not is_ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer[1], hashes.SHA256())
    )


def _seal_key(private: Any, *chain: x509.Certificate) -> SealKey:
    """The seal key as settings give it: the PEM private key, then the chain from the leaf."""
    pem = serialization.Encoding.PEM
    return load_key(
        private.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        b"".join(cert.public_bytes(pem) for cert in chain),
    )


def test_production_key_with_intermediate_chains_to_root(pdf: bytes) -> None:
    root_key, mid_key, seal_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _issue("司法行政 Root CA", root_key, ("司法行政 Root CA", root_key), is_ca=True)
    mid = _issue("苏州 Sub CA", mid_key, ("司法行政 Root CA", root_key), is_ca=True)
    leaf = _issue(ORG, seal_key, ("苏州 Sub CA", mid_key), is_ca=False)
    pem = serialization.Encoding.PEM
    key = _seal_key(seal_key, leaf, mid)
    # Only the root is given to the verifier: the intermediate must travel inside the seal.
    check = verify_pdf(seal_pdf(pdf, key), root.public_bytes(pem))
    assert check.ok(), check
    assert check.signer == ORG


def test_a_large_key_with_long_names_fits_the_room_reserved_for_its_seal(pdf: bytes) -> None:
    # The room for the CMS is computed from the key, not measured by a dummy signature: the
    # largest parts (RSA-4096, a CA and a seal with names at X.520's limit) must still fit.
    long_name = "江苏省苏州市吴江区松陵街道人民调解委员会"  # + "根": 63 of the 64 bytes allowed
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    seal_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    ca = _issue(long_name + "根", ca_key, (long_name + "根", ca_key), is_ca=True)
    leaf = _issue(long_name, seal_key, (long_name + "根", ca_key), is_ca=False)
    pem = serialization.Encoding.PEM
    key = _seal_key(seal_key, leaf, ca)
    check = verify_pdf(seal_pdf(pdf, key), ca.public_bytes(pem))
    assert check.ok(), check


async def test_refuses_to_block_the_event_loop(sealed: bytes, key: SealKey) -> None:
    # Inside a coroutine pyHanko's asyncio.run() would fail; a verifier that swallowed that
    # would report a genuine seal as broken.
    with pytest.raises(RuntimeError, match="run_in_executor"):
        verify_pdf(sealed, key.cert_pem)
    with pytest.raises(RuntimeError, match="run_in_executor"):
        seal_pdf(sealed, key)
    loop = asyncio.get_running_loop()
    check = await loop.run_in_executor(None, verify_pdf, sealed, key.cert_pem)
    assert check.ok()
