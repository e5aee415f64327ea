"""`dscr registry`, `dscr scan`, `dscr flags` and `dscr takedowns`, run in-process."""

from __future__ import annotations

import json
import os
import stat

import pytest

import cli
from tests.detection.test_service import EXPECTED, write_registry_files, write_uploads

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def dscr(rt, settings, make_account, monkeypatch, capsys):
    reviewer = make_account("reviewer")
    monkeypatch.setenv("DSCR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DSCR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DSCR_KEY_FILE", str(settings.key_file))
    monkeypatch.setenv("DSCR_STUDY_KEY_FILE", str(settings.study_key_file))
    monkeypatch.setenv("DSCR_SCAN_ROOT", str(settings.data_dir))
    monkeypatch.setenv("DSCR_USER", reviewer.username)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@SQLITE_ONLY
def test_registry_scan_and_review_from_the_command_line(dscr, tmp_path):
    files = write_registry_files(tmp_path / "registry")
    code, out, _ = dscr("registry", "add", "--case", "CASE-A", files / "astronaut.jpg")
    assert code == 2  # CASE-A is not known yet
    code, out, _ = dscr("registry", "add", "--case", "CASE-A", "--new-case", "--workers", "1",
                        files / "astronaut.jpg")
    assert code == 0 and "case CASE-A: 1 files hashed" in out
    code, out, _ = dscr("registry", "add", "--case", "CASE-B", "--new-case", "--workers", "1",
                        files / "coffee.jpg", files / "chelsea.jpg")
    assert code == 0 and "2 files hashed" in out
    code, out, _ = dscr("registry", "summary")
    assert code == 0 and "CASE-B" in out and "orb-ransac-v1" in out

    uploads = write_uploads(tmp_path / "uploads")
    report_path = tmp_path / "report" / "scan.json"
    code, out, _ = dscr("scan", uploads, "--json", report_path, "--workers", "1")
    assert code == 0 and "9 files, 4 flagged, 2 clear, 3 errors" in out
    # The report names files and cases: its owner's only, in a folder created for it alike.
    assert stat.S_IMODE(os.stat(report_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(report_path.parent).st_mode) == 0o700
    report = json.loads(report_path.read_text())
    assert {i["path"]: i["status"] for i in report["items"]} == {
        p: s for p, (s, _) in EXPECTED.items()}
    assert report["totals"]["flagged"] == 4
    flagged = next(i for i in report["items"] if i["path"] == "astronaut_q30.jpg")
    assert flagged["matches"][0]["case"] == "CASE-A"

    code, out, _ = dscr("flags", "list")
    pending = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(pending) == 4
    target = next(f for f in pending if f["case"] == "CASE-A")
    code, out, _ = dscr("flags", "review", target["id"], "--confirm", "--reason", "same photo")
    assert code == 0 and "confirmed; takedown request" in out
    code, _, err = dscr("flags", "review", target["id"], "--reject", "--reason", "no")
    assert code == 2 and "was confirmed by" in err

    code, out, _ = dscr("takedowns", "list")
    takedown = json.loads(out.splitlines()[0])
    code, out, _ = dscr("takedowns", "update", takedown["id"], "--status", "removed",
                        "--platform", "example.net")
    assert code == 0 and "is now removed" in out

    exported = tmp_path / "hashes.csv"
    code, out, _ = dscr("registry", "export", exported, "--purpose", "exchange")
    assert code == 0 and "hashes written" in out
    code, out, _ = dscr("registry", "import", exported)
    assert code == 0 and "0 hashes added" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("algorithm,hash,case\npdq,123,CASE-A\n")
    code, _, err = dscr("registry", "import", bad)
    assert code == 2 and "line 2:" in err and "nothing was written" in err


@SQLITE_ONLY
def test_inputs_that_broke_a_scan_or_an_import_give_one_line(dscr, tmp_path, settings,
                                                             monkeypatch):
    from tests.detection.test_dodge import bad_utf8_member_zip

    archive = settings.data_dir / "odd.zip"
    archive.write_bytes(bad_utf8_member_zip())
    code, _, err = dscr("scan", archive, "--json", tmp_path / "r.json", "--workers", "1")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("dscr: error: member 2 of odd.zip has a name that is not valid UTF-8")

    big = tmp_path / "big.csv"
    big.write_text("algorithm,hash,case\npdq,\"" + "0" * (200 * 1024) + "\n")
    code, _, err = dscr("registry", "import", big)
    assert code == 2 and err.count("\n") == 1
    assert "line 2 of big.csv has a field longer than 131,072 characters" in err

    monkeypatch.setenv("DSCR_KEY_FILE", str(tmp_path))
    code, _, err = dscr("flags", "list")
    assert code == 2 and err == (f"dscr: configuration error: The key file {tmp_path} "
                                 "(DSCR_KEY_FILE) is a folder, not a file; point DSCR_KEY_FILE "
                                 "at the key file itself.\n")


@SQLITE_ONLY
def test_a_crawl_manifest_is_scanned_from_the_command_line_and_its_source_listed(dscr, tmp_path):
    files = write_registry_files(tmp_path / "registry")
    code, _, _ = dscr("registry", "add", "--case", "CASE-A", "--new-case", "--workers", "1",
                      files / "astronaut.jpg")
    assert code == 0
    uploads = write_uploads(tmp_path / "uploads")
    manifest = tmp_path / "crawl.csv"
    manifest.write_text("uri,platform,page_url,first_seen\n"
                        f"{uploads / 'astronaut_q30.jpg'},p.example,https://p.example/1,2026-12-01\n"
                        f"{uploads / 'rocket.jpg'},p.example,https://p.example/2,2026-12-01\n")
    code, out, _ = dscr("scan", "--manifest", manifest, "--json", tmp_path / "r.json",
                        "--workers", "1")
    assert code == 0 and "2 files, 1 flagged, 1 clear, 0 errors" in out
    code, out, _ = dscr("flags", "list")
    flag = json.loads(out.splitlines()[0])
    assert (flag["platform"], flag["page_url"]) == ("p.example", "https://p.example/1")
    code, out, _ = dscr("flags", "review", flag["id"], "--confirm", "--reason", "same photo")
    assert code == 0
    code, out, _ = dscr("takedowns", "list")
    takedown = json.loads(out.splitlines()[0])
    assert (takedown["platform"], takedown["page_url"]) == ("p.example", "https://p.example/1")
    manifest.write_text("uri,platform,page_url,first_seen\n"
                        f"{uploads / 'rocket.jpg'},p.example,https://p.example/2,soon\n")
    code, _, err = dscr("scan", "--manifest", manifest, "--json", tmp_path / "r2.json")
    assert code == 2 and "line 2: first_seen 'soon'" in err
