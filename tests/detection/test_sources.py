"""Listing folders, zips and uploads safely, and reading their files within limits."""

from __future__ import annotations

import os
import stat
import zipfile

import pytest

from detection.analysis import AnalysisOptions, analyse
from detection.sources import Item, Limits, list_source, unsafe_member_name
from errors import ValidationError
from tests.detection.test_service import jpeg, photo


def test_folder_listing_skips_links_that_leave_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(jpeg(photo("rocket")))
    root = tmp_path / "uploads"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(jpeg(photo("coffee")))
    (root / "sub" / "b.jpg").write_bytes(jpeg(photo("chelsea")))
    os.symlink(outside / "secret.jpg", root / "link.jpg")
    os.symlink(outside, root / "linkdir")
    os.symlink(root / "a.jpg", root / "inside.jpg")
    items, refused = list_source(root)
    assert [i.path for i in items] == ["a.jpg", "inside.jpg", "sub/b.jpg"]
    reasons = {r.path: r.reason for r in refused}
    assert set(reasons) == {"link.jpg", "linkdir"}
    assert "outside the scanned folder" in reasons["link.jpg"]
    assert "outside the scanned folder" in reasons["linkdir"]


def test_folder_listing_refuses_oversized_files_and_too_many_files(tmp_path):
    (tmp_path / "big.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 5000)
    (tmp_path / "small.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 3000)
    items, refused = list_source(tmp_path, Limits(max_file_bytes=4000))
    assert [i.path for i in items] == ["small.jpg"]
    assert refused[0].path == "big.jpg" and "above the limit of 4,000" in refused[0].reason
    with pytest.raises(ValidationError, match="scan it in parts"):
        list_source(tmp_path, Limits(max_members=1))


@pytest.mark.parametrize("name,bad", [
    ("a/b.jpg", False), ("../x.jpg", True), ("a/../../x.jpg", True), ("/etc/x.jpg", True),
    ("C:/x.jpg", True), ("a\\..\\..\\x.jpg", True), ("a..b.jpg", False),
])
def test_unsafe_member_names_are_recognised(name, bad):
    assert (unsafe_member_name(name) is not None) == bad


def test_zip_listing_refuses_traversal_links_and_bombs_member_by_member(tmp_path):
    archive = tmp_path / "u.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.jpg", jpeg(photo("coffee")))
        zf.writestr("../escape.jpg", jpeg(photo("coffee")))
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("inflates.jpg", b"\0" * (3 * 2**20))
        # Enough incompressible bytes that the archive as a whole is not a bomb.
        zf.writestr("noise.bin", os.urandom(2**20))
    items, refused = list_source(archive)
    assert [i.path for i in items] == ["noise.bin", "ok.jpg"]
    reasons = {r.path: r.reason for r in refused}
    assert "path traversal" in reasons["../escape.jpg"]
    assert "symbolic link" in reasons["link.jpg"]
    assert "decompression bomb" in reasons["inflates.jpg"]


def test_a_zip_bomb_or_an_archive_with_too_many_members_is_refused_whole(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(4):
            zf.writestr(f"{i}.jpg", b"\0" * (8 * 2**20))
    with pytest.raises(ValidationError, match="zip bomb"):
        list_source(bomb)
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.jpg", b"x")
    with pytest.raises(ValidationError, match="5 members, above the limit of 4"):
        list_source(many, Limits(max_members=4))


def test_a_member_larger_than_it_declares_is_not_read_past_the_limit(tmp_path):
    archive = tmp_path / "liar.zip"
    payload = jpeg(photo("coffee"))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jpg", payload)
    limits = Limits(max_file_bytes=len(payload) - 1)
    result = analyse((Item("a.jpg", os.fspath(archive), "a.jpg"), AnalysisOptions(limits=limits)))
    assert result.error is not None and "more than" in result.error
