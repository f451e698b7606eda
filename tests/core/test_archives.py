"""Untrusted zips: `../` and absolute entries, links, encryption, bombs and size limits are refused from
the directory alone; a header that lies cannot deliver more than it declared."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from core.archives import ZipLimits, checked_members, extract_zip, open_zip, read_member
from core.errors import InvalidInputError

LIMITS = ZipLimits(max_entries=20, max_unpacked_bytes=5_000_000, max_entry_bytes=2_000_000)


def make_zip(path: Path, entries: dict[str, bytes], **infos: zipfile.ZipInfo) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(infos.get(name) or name, data)
    return path


def patch_directory(path: Path, name: str, offset: int, value: bytes) -> None:
    """Overwrite bytes at `offset` of the central directory record of entry `name`."""
    data = bytearray(path.read_bytes())
    record = next(
        at
        for at in range(len(data))
        if data[at : at + 4] == b"PK\x01\x02" and data[at + 46 : at + 46 + len(name)] == name.encode()
    )
    data[record + offset : record + offset + len(value)] = value
    path.write_bytes(bytes(data))


def members(path: Path, limits: ZipLimits = LIMITS) -> list[str]:
    with open_zip(path) as archive:
        return [member.path for member in checked_members(archive, limits)]


def test_files_are_listed_without_folders_hidden_files_or_macos_metadata(tmp_path):
    path = make_zip(
        tmp_path / "photos.zip",
        {"photos/": b"", "photos/a.jpg": b"a", "photos/.DS_Store": b"x", "__MACOSX/photos/._a.jpg": b"x",
         "photos/sub/b.png": b"b", "./c.gif": b"c"},
    )  # fmt: skip
    assert members(path) == ["photos/a.jpg", "photos/sub/b.png", "c.gif"]


@pytest.mark.parametrize("name", ["../evil.jpg", "photos/../../evil.jpg", "/etc/evil.jpg", "C:/evil.jpg",
                                  "..\\evil.jpg"])  # fmt: skip
def test_entries_outside_the_folder_are_refused(tmp_path, name):
    path = make_zip(tmp_path / "bad.zip", {"ok.jpg": b"1", name: b"2"})
    with pytest.raises(
        InvalidInputError, match=r"outside its own folder.*'\.\.' or a leading '/' are refused"
    ):
        members(path)


def test_links_and_encrypted_entries_are_refused(tmp_path):
    link = zipfile.ZipInfo("link.jpg")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(InvalidInputError, match="symbolic link"):
        members(make_zip(tmp_path / "link.zip", {"link.jpg": b"/etc/passwd"}, **{"link.jpg": link}))
    locked = make_zip(tmp_path / "locked.zip", {"locked.jpg": b"x"})
    patch_directory(locked, "locked.jpg", 8, (1).to_bytes(2, "little"))  # general flags: encrypted
    with pytest.raises(InvalidInputError, match=r"entry 'locked\.jpg' is encrypted"):
        members(locked)


def test_bombs_too_many_entries_and_too_many_bytes_are_refused(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros.jpg": bytes(4_000_000)})  # ~4 KB compressed
    assert bomb.stat().st_size < 40_000
    with pytest.raises(
        InvalidInputError, match=r"unpacks to 4 MB from 0\.00 MB \(over 100:1\): refused as a zip bomb"
    ):
        members(bomb)
    many = make_zip(tmp_path / "many.zip", {f"{n}.jpg": b"x" for n in range(21)})
    with pytest.raises(InvalidInputError, match="holds 21 entries; at most 20"):
        members(many)
    big = make_zip(tmp_path / "big.zip", {f"{n}.jpg": os.urandom(1_500_000) for n in range(4)})
    with pytest.raises(InvalidInputError, match=r"unpacks to 6\.0 MB; at most 5\.0 MB"):
        members(big)


def test_reading_stops_at_the_size_limit_and_the_declared_size(tmp_path):
    path = make_zip(tmp_path / "photos.zip", {"small.jpg": b"12345", "large.jpg": os.urandom(2_500_000)})
    with open_zip(path) as archive:
        small, large = checked_members(archive, LIMITS)
        assert read_member(archive, small, LIMITS) == b"12345"
        with pytest.raises(InvalidInputError, match="over the limit of 2 MB per file"):
            read_member(archive, large, LIMITS)
    # A directory that understates an entry's size (5 bytes said to be 2): zipfile stops at the declared
    # size and its CRC check notices the cut; either way no more than the header says is ever read.
    data = bytearray(path.read_bytes())
    central = next(
        at
        for at in range(len(data))
        if data[at : at + 4] == b"PK\x01\x02" and data[at + 46 : at + 55] == b"small.jpg"
    )
    data[central + 24 : central + 28] = (2).to_bytes(4, "little")
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bytes(data))
    with open_zip(lying) as archive:
        small = checked_members(archive, LIMITS)[0]
        assert small.info.file_size == 2
        try:
            assert len(read_member(archive, small, LIMITS)) <= 2
        except InvalidInputError as error:
            assert "damaged" in str(error)


def test_not_a_zip_is_a_clear_error(tmp_path):
    path = tmp_path / "photos.zip"
    path.write_bytes(b"%PDF-1.4 not a zip")
    with pytest.raises(InvalidInputError, match="The zip is not a readable zip file"):
        open_zip(path)


def test_extract_writes_only_checked_members(tmp_path):
    path = make_zip(tmp_path / "photos.zip", {"a/b.jpg": b"b", ".hidden": b"h", "c.txt": b"c"})
    written = extract_zip(path, tmp_path / "out", LIMITS)
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == ["a/b.jpg", "c.txt"]
    assert (tmp_path / "out" / "a" / "b.jpg").read_bytes() == b"b"
    with pytest.raises(InvalidInputError, match="outside its own folder"):
        extract_zip(make_zip(tmp_path / "bad.zip", {"../x.jpg": b"x"}), tmp_path / "out2", LIMITS)
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "out2").exists()
