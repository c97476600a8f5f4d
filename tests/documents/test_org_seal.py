"""Each organisation seals with its own key; the seal keeps the file PDF 1.7 (PDF/A-3); an RFC
3161 timestamp from a (local) timestamp authority when one is configured."""

from __future__ import annotations

import asyncio
import io
import re
import stat
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pypdf import PdfReader

from app.db import sessionmaker_key
from app.models import Case, Organization
from app.settings import Settings
from documents.keys import SealKeys, seal_keys_key
from documents.pdf import agreement_html, html_to_pdfa
from documents.seal import seal_pdf, verify_pdf
from documents.sealed import check_seal, sealed_pdf
from tests.builders import effective
from tests.documents.test_seal import AGREEMENT_JSON, agreement
from tests.pdf_reading import poppler

TOWN, VILLAGE = "吴江区松陵街道人民调解委员会", "吴江区松陵街道三村人民调解委员会"


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return html_to_pdfa(
        agreement_html(agreement()), [("agreement.json", AGREEMENT_JSON, "协议数据")]
    )


def test_each_organisation_has_its_own_seal_kept_across_restarts(tmp_path: Path) -> None:
    keys = SealKeys(Settings(var_dir=tmp_path))
    town, village = keys.for_org(2, TOWN), keys.for_org(4, VILLAGE)
    assert town.cert_pem != village.cert_pem
    assert TOWN in (town.subject_cn or "") and VILLAGE[:15] in (village.subject_cn or "")
    key_file = tmp_path / "keys" / "org-2" / "seal-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = SealKeys(Settings(var_dir=tmp_path)).for_org(2, TOWN)  # another process, later
    assert again.key_pem == town.key_pem and again.cert_pem == town.cert_pem
    roots = keys.trust_roots()
    assert town.cert_pem in roots and village.cert_pem in roots


def test_a_seal_verifies_against_its_organisation_only(pdf: bytes, tmp_path: Path) -> None:
    keys = SealKeys(Settings(var_dir=tmp_path))
    town, village = keys.for_org(2, TOWN), keys.for_org(4, VILLAGE)
    sealed = seal_pdf(pdf, town)
    assert verify_pdf(sealed, town.cert_pem).ok()
    other = verify_pdf(sealed, village.cert_pem)
    assert other.intact and not other.trusted


def test_production_seal_directory_is_used_per_organisation(tmp_path: Path) -> None:
    seal_dir = tmp_path / "seals"
    made = SealKeys(Settings(var_dir=tmp_path / "elsewhere")).for_org(7, "某某人民调解委员会")
    seal_dir.mkdir()
    (seal_dir / "7.key").write_bytes(made.key_pem)
    (seal_dir / "7.crt").write_bytes(made.cert_pem)
    keys = SealKeys(Settings(var_dir=tmp_path / "var", seal_dir=seal_dir))
    assert keys.for_org(7, "ignored").key_pem == made.key_pem
    assert not (tmp_path / "var" / "keys" / "org-7").exists()  # nothing generated for org 7
    fallback = keys.for_org(8, "另一调解委员会")  # no pair in the directory: development seal
    assert (tmp_path / "var" / "keys" / "org-8" / "seal-key.pem").exists()
    assert fallback.key_pem != made.key_pem


def test_sealed_file_stays_pdf_1_7_and_pdfa_3b(pdf: bytes, tmp_path: Path) -> None:
    sealed = seal_pdf(pdf, SealKeys(Settings(var_dir=tmp_path)).for_org(2, TOWN))
    assert sealed.startswith(b"%PDF-1.7")
    root = PdfReader(io.BytesIO(sealed)).trailer["/Root"]
    assert str(root.get("/Version", "/1.7")) == "/1.7", root.get("/Version")
    assert b"/Version /2.0" not in sealed and b"/Version/2.0" not in sealed
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp) and re.search(r'pdfaid:conformance(="|>)B', xmp)
    assert "/ESIC" in str(root["/Extensions"])  # PAdES declared the PDF 1.7 way


def _tsa_certificate() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's TSA: RSA
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "本地测试时间戳服务")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


@pytest.fixture
def local_tsa() -> Iterator[tuple[str, bytes]]:
    """An RFC 3161 timestamp authority on a local port (pyHanko's test signer behind HTTP)."""
    cert, key = _tsa_certificate()
    der = serialization.Encoding.DER
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        ),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            reply = stamper.request_tsa_response(query).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield (
        f"http://127.0.0.1:{server.server_port}/tsa",
        cert.public_bytes(serialization.Encoding.PEM),
    )
    server.shutdown()
    server.server_close()
    thread.join()


def test_seal_carries_a_timestamp_from_the_configured_authority(
    pdf: bytes, tmp_path: Path, local_tsa: tuple[str, bytes]
) -> None:
    url, tsa_pem = local_tsa
    key = SealKeys(Settings(var_dir=tmp_path)).for_org(2, TOWN)
    without = verify_pdf(seal_pdf(pdf, key), key.cert_pem + tsa_pem)
    assert without.ok() and without.timestamped_at is None
    stamped = seal_pdf(pdf, key, tsa_url=url)
    check = verify_pdf(stamped, key.cert_pem + tsa_pem)
    assert check.ok() and check.timestamped_at is not None
    assert abs(check.timestamped_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert stamped.startswith(b"%PDF-1.7") and b"/Version /2.0" not in stamped


async def test_the_agreement_is_sealed_with_its_committees_key(app, demo, tmp_path: Path) -> None:
    agreement = await effective(app, demo)
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, agreement.case_id)
        assert case is not None
        org = await db.get(Organization, case.org_id)
        assert org is not None
    pdf = (await sealed_pdf(app, agreement.id)).pdf
    keys = app[seal_keys_key]
    own = await asyncio.get_running_loop().run_in_executor(None, keys.for_org, org.id, org.name)
    other = await asyncio.get_running_loop().run_in_executor(None, keys.for_org, 999, "别的委员会")
    loop = asyncio.get_running_loop()
    check = await loop.run_in_executor(None, verify_pdf, pdf, own.cert_pem)
    assert check.ok() and org.name[:15] in (check.signer or "")
    assert not (await loop.run_in_executor(None, verify_pdf, pdf, other.cert_pem)).trusted
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid" in poppler("pdfsig", str(path))  # integrity, read independently
    assert pdf.startswith(b"%PDF-1.7") and b"/Version /2.0" not in pdf
    assert (await check_seal(app, pdf)).ok()


def test_the_seal_image_carries_the_committees_name() -> None:
    doc = agreement()
    html = agreement_html(doc)
    assert 'class="seal"' in html and all(f">{c}<" in html for c in doc.org_name)
    unsealed = agreement_html(replace(doc, effective_at=None))
    assert 'class="seal"' not in unsealed  # no seal on paper before it is applied


def test_a_title_only_change_after_sealing_is_reported(pdf: bytes, tmp_path: Path) -> None:
    key = SealKeys(Settings(var_dir=tmp_path)).for_org(2, TOWN)
    sealed = seal_pdf(pdf, key)
    assert verify_pdf(sealed, key.cert_pem).later_revisions == 0
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    writer.set_info(
        generic.DictionaryObject({generic.pdf_name("/Title"): generic.pdf_string("改")})
    )
    out = io.BytesIO()
    writer.write(out)
    check = verify_pdf(out.getvalue(), key.cert_pem)
    assert check.trusted and check.later_revisions == 1 and not check.ok()
