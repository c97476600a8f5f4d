"""`python -m app verify FILE` and the upload on /verify: the seal, revisions after it, and
whether the file is the document on record and who signed it."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from app.cli import cmd_verify
from app.settings import Settings, settings_key
from documents.sealed import sealed_pdf
from tests.builders import effective
from tests.people import csrf


def retitled(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    title = {generic.pdf_name("/Title"): generic.pdf_string("改过的标题")}
    writer.set_info(generic.DictionaryObject(title))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def run_verify(
    settings: Settings, path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict]:
    status = await cmd_verify(settings, argparse.Namespace(file=str(path)))
    return status, json.loads(capsys.readouterr().out)


async def test_cli_reports_seal_record_signers_and_later_revisions(
    app, demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement = await effective(app, demo)
    pdf = (await sealed_pdf(app, agreement.id)).pdf
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    status, report = await run_verify(app[settings_key], path, capsys)
    assert status == 0 and report["valid"] and report["on_record"]
    assert report["revisions_after_seal"] == 0 and report["version"] == agreement.version
    assert [s["name"] for s in report["signed_by"]] == ["赵六", "钱七", "陈调解"]
    path.write_bytes(retitled(pdf))
    status, report = await run_verify(app[settings_key], path, capsys)
    assert status == 1 and not report["valid"] and not report["on_record"]
    assert report["trusted"] and report["revisions_after_seal"] == 1
    flipped = bytearray(pdf)
    flipped[len(pdf) // 3] ^= 0x01
    path.write_bytes(bytes(flipped))
    status, report = await run_verify(app[settings_key], path, capsys)
    assert status == 1 and not report["valid"]


async def test_upload_page_names_the_signers_of_the_document_on_record(app, client, demo) -> None:
    agreement = await effective(app, demo)
    pdf = (await sealed_pdf(app, agreement.id)).pdf
    for body, on_record in ((pdf, True), (retitled(pdf), False)):
        token = await csrf(client, "/verify/" + agreement.version_hash)
        form = {"pdf": io.BytesIO(body), "_csrf": token}
        page = await (await client.post("/verify", data=form)).text()
        assert ('id="verify-signers"' in page) is on_record
        assert ("赵六" in page) is on_record
        assert ('id="verify-revisions"' in page) is not on_record
