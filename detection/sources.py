"""Where a scan's files come from: a folder, a zip or an upload, listed safely and read within limits.

``list_source`` lists the files of a folder, a zip or a single file (``list_upload`` the same for
an upload held in memory), refusing what must not be read (paths that climb out of the archive,
links that leave the folder, oversized members, zip bombs) with a reason per file, or for the
whole archive when it is a bomb. ``read_item`` reads one listed file, never past the limit.
Every file gets a label that a report can show and a database can store: names that are not
UTF-8 are shown with their bytes escaped, every label is at most MAX_LABEL characters and no two
files of one listing share a label and member index (``Item.key``), so none can hide behind
another. An item's file may also be an fsspec URL (a crawl manifest's item, read by
``open_uri`` where it is hashed). Plain data in, plain data out: no database, no worker processes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from detection.media import DEFAULT_MAX_PIXELS
from errors import ValidationError


@dataclass(frozen=True)
class Limits:
    """What a scan agrees to read. Bigger files or archives are refused with the reason."""

    max_file_bytes: int = 512 * 2**20
    max_members: int = 20_000
    max_total_bytes: int = 8 * 2**30
    # Photos and videos barely compress; a member that inflates more than this is a bomb.
    max_ratio: float = 100.0
    max_pixels: int = DEFAULT_MAX_PIXELS


DEFAULT_LIMITS = Limits()
# The longest label a scan stores (scan_items.path, flags.item_path).
MAX_LABEL = 1024


@dataclass(frozen=True)
class Item:
    """One file to analyse: its label in the report, and where its bytes are.

    ``data`` holds an upload in memory (the file itself, or the zip holding ``member``); it is
    never written to disk, except a video's bytes for PyAV, in a temporary file deleted at once.
    """

    path: str
    file: str  # a file on disk, or the zip archive holding the member (for an upload, its name)
    member: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)
    # The member's place in the archive (1 for its first entry), 0 for a file that is no member:
    # two members may have one name, and each is read and reported as itself.
    index: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.path, self.index)


@dataclass(frozen=True)
class Refused:
    """A file that is not read, with the reason."""

    path: str
    reason: str
    index: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.path, self.index)


def shown_name(name: str) -> str:
    """A file name as text a person, a terminal and a database can take.

    Names that are not UTF-8 reach Python with their bytes as lone surrogates
    (``os.fsdecode``); they are shown with those bytes escaped (``bad\\xffname.jpg``).
    """
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _fit(label: str) -> str:
    """The label, or a shortened one ending in a digest of the whole when it is too long."""
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:16]
    return f"{label[: MAX_LABEL - 20]}...#{digest}"


class _Labels:
    """Labels for the files of one folder, each shown safely, fitted, and used once."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, rel: str) -> str:
        label = _fit(shown_name(rel))
        n = 1
        while label in self.used:  # an escaped name may read like another file's real name
            n += 1
            label = _fit(f"{shown_name(rel)} ({n})")
        self.used.add(label)
        return label


def list_source(
    source: str | os.PathLike, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Item], list[Refused]]:
    """Files of a folder (recursively), a zip archive or a single file, sorted by path.

    Raises ValidationError when the source is missing or when a zip is refused as a whole (not
    a zip, too many members, or a decompression bomb).
    """
    root = Path(source)
    if not root.exists():
        raise ValidationError("detection.does_not_exist_give",
                              "{fspath} does not exist; give a folder, a zip or a file",
                              fspath=os.fspath(source))
    if root.is_dir():
        return _list_folder(root, limits)
    if zipfile.is_zipfile(root):
        return _list_zip(root, limits)
    if not root.is_file():
        raise ValidationError("detection.not_regular_file_folder",
                              "{fspath} is not a regular file, folder or zip",
                              fspath=os.fspath(source))
    size = root.stat().st_size
    if size > limits.max_file_bytes:
        return [], [Refused(_fit(shown_name(root.name)), _too_big(size, limits))]
    return [Item(_fit(shown_name(root.name)), os.fspath(root))], []


def _too_big(size: int, limits: Limits) -> str:
    return (
        f"the file is {size:,} bytes, above the limit of {limits.max_file_bytes:,}; "
        "it was not read"
    )


def _list_folder(root: Path, limits: Limits) -> tuple[list[Item], list[Refused]]:
    real_root = root.resolve()
    items: list[Item] = []
    refused: list[Refused] = []
    label = _Labels()

    def inside(p: str) -> bool:
        try:
            Path(os.path.realpath(p)).relative_to(real_root)
        except ValueError:
            return False
        return True

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                rel = label(Path(full).relative_to(root).as_posix())
                reason = (
                    "a link to a folder outside the scanned folder; not followed"
                    if not inside(full)
                    else "a link to another folder inside the scanned folder; not followed "
                    "(its files are scanned where they are)"
                )
                refused.append(Refused(rel, reason))
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = label(Path(full).relative_to(root).as_posix())
            if os.path.islink(full) and not inside(full):
                refused.append(Refused(rel, "a link to a file outside the scanned folder; skipped"))
                continue
            try:
                st = os.stat(full)
            except OSError as exc:
                refused.append(Refused(rel, f"cannot be read ({exc.strerror or exc})"))
                continue
            if not stat.S_ISREG(st.st_mode):
                refused.append(Refused(rel, "not a regular file (a device, socket or pipe)"))
                continue
            if st.st_size > limits.max_file_bytes:
                refused.append(Refused(rel, _too_big(st.st_size, limits)))
                continue
            items.append(Item(rel, full))
    if len(items) + len(refused) > limits.max_members:
        raise ValidationError(
            "detection.holds_files_above_limit",
            "{fspath} holds {n_items:,} files, above the limit of {limits_max_members:,}; scan "
            "it in parts",
            fspath=os.fspath(root), n_items=len(items) + len(refused),
            limits_max_members=limits.max_members
        )
    items.sort(key=lambda i: i.path)
    return items, refused


def unsafe_member_name(name: str) -> str | None:
    """Why a zip member's name must not be used (absolute, drive letter, '..'), or None."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return "an absolute path inside the archive (path traversal); refused"
    if any(part == ".." for part in PurePosixPath(text).parts):
        return "a path climbing out of the archive with '..' (path traversal); refused"
    if "\x00" in text:
        return "a name with a NUL character; refused"
    return None


def list_upload(
    name: str, data: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Item], list[Refused]]:
    """``list_source`` for an upload held in memory: a zip (the same checks) or a single file."""
    label = PurePosixPath((name or "upload").replace("\\", "/")).name or "upload"
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _list_zip(Path(label), limits, data=data)
    if len(data) > limits.max_file_bytes:
        return [], [Refused(label, _too_big(len(data), limits))]
    return [Item(label, label, data=data)], []


def _list_zip(
    path: Path, limits: Limits, data: bytes | None = None
) -> tuple[list[Item], list[Refused]]:
    label = shown_name(path.name)
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError("detection.not_readable_zip_archive",
                              "{label} is not a readable zip archive ({exc})",
                              label=label, exc=exc) from exc
    except UnicodeDecodeError as exc:
        # The member says its name is UTF-8 (general purpose bit 11) and it is not: zipfile
        # cannot list the archive at all.
        raise ValidationError(
            "detection.member_name",
            "member {index} of {archive} has a name that is not valid UTF-8 although the "
            "archive says it is; it is shown as {shown}",
            index=_undecodable_member(path if data is None else io.BytesIO(data)) or "?",
            archive=label,
            shown=bytes(exc.object).decode("utf-8", "backslashreplace"),
        ) from None
    # Entries are numbered by their place in the archive, directories included. A "directory"
    # that holds bytes is content under a folder's name: it is scanned like any member.
    numbered = [(n, i) for n, i in enumerate(infos, start=1) if not i.is_dir() or i.file_size]
    files = [i for _, i in numbered]
    if len(files) > limits.max_members:
        raise ValidationError(
            "detection.holds_members_above_limit",
            "{label} holds {n_files:,} members, above the limit of {limits_max_members:,}; it "
            "was refused (split it into smaller archives)",
            label=label, n_files=len(files), limits_max_members=limits.max_members
        )
    declared = sum(i.file_size for i in files)
    packed = sum(i.compress_size for i in files)
    if declared > limits.max_total_bytes or (
        declared > 2**20 and declared > limits.max_ratio * max(packed, 1)
    ):
        raise ValidationError(
            "detection.declares_bytes_uncompressed_packed",
            "{label} declares {declared:,} bytes uncompressed from {packed:,} packed (limit "
            "{limits_max_total_bytes:,} bytes, ratio {limits_max_ratio:g}); it looks like a zip "
            "bomb and was refused",
            label=label, declared=declared, packed=packed,
            limits_max_total_bytes=limits.max_total_bytes, limits_max_ratio=limits.max_ratio
        )
    items: list[Item] = []
    refused: list[Refused] = []
    for index, info in numbered:
        name = info.filename
        reason = unsafe_member_name(name)
        mode = info.external_attr >> 16
        if reason is None and stat.S_ISLNK(mode):
            reason = "a symbolic link inside the archive; refused"
        if reason is None and info.flag_bits & 0x1:
            reason = "an encrypted member; it cannot be read without its password"
        if reason is None and info.file_size > limits.max_file_bytes:
            reason = _too_big(info.file_size, limits)
        if reason is None and info.file_size > 2**20 and (
            info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            reason = (
                f"inflates {info.file_size / max(info.compress_size, 1):,.0f} times; "
                "a decompression bomb, refused"
            )
        shown = _fit(name)
        if reason is not None:
            refused.append(Refused(shown, reason, index))
        else:
            items.append(Item(shown, os.fspath(path), name, data=data, index=index))
    items.sort(key=lambda i: i.key)
    return items, refused


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # its zip64 form, just before the zip64 locator
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # one central directory header


def _undecodable_member(archive) -> int | None:
    """The place (1-based) of the first member flagged UTF-8 whose name is not, or None."""
    try:
        with archive if isinstance(archive, io.BytesIO) else open(archive, "rb") as fh:
            fh.seek(0, io.SEEK_END)
            size = fh.tell()
            start = max(0, size - _EOCD.size - 0xFFFF)
            fh.seek(start)
            tail = fh.read()
            at = tail.rfind(b"PK\x05\x06")
            if at < 0:
                return None
            eocd = start + at
            _, _, _, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
            end = eocd
            if entries == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
                end = eocd - 20 - _EOCD64.size
                fh.seek(end)
                record = _EOCD64.unpack(fh.read(_EOCD64.size))
                if record[0] != b"PK\x06\x06":
                    return None
                entries, cd_size = record[7], record[8]
            fh.seek(end - cd_size)
            directory = fh.read(cd_size)
    except (OSError, struct.error):
        return None
    pos = 0
    for n in range(1, entries + 1):
        try:
            head = _CENTRAL.unpack_from(directory, pos)
        except struct.error:
            return None
        if head[0] != b"PK\x01\x02":
            return None
        flags, name_len, extra_len, comment_len = head[3], head[10], head[11], head[12]
        name = directory[pos + _CENTRAL.size: pos + _CENTRAL.size + name_len]
        if flags & 0x800:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                return n
        pos += _CENTRAL.size + name_len + extra_len + comment_len
    return None


def read_item(item: Item, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of one file, never more than the limit whatever its header declares."""
    cap = limits.max_file_bytes
    try:
        if item.member is None and item.data is not None:
            data = item.data[: cap + 1]
        elif item.member is None:
            with open_uri(item.file) as fh:
                data = fh.read(cap + 1)
        elif item.data is None:
            with open_uri(item.file) as raw, zipfile.ZipFile(raw) as zf, \
                    zf.open(_member_info(zf, item)) as fh:
                data = fh.read(cap + 1)
        else:
            with zipfile.ZipFile(io.BytesIO(item.data)) as zf, \
                    zf.open(_member_info(zf, item)) as fh:
                data = fh.read(cap + 1)
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError,
            ImportError) as exc:
        raise ValidationError("detection.read",
                              "{item_path} cannot be read ({exc})",
                              item_path=item.path, exc=exc) from exc
    if len(data) > cap:
        raise ValidationError(
            "detection.holds_more_bytes_more",
            "{item_path} holds more than {cap:,} bytes (more than it declared); it was not read",
            item_path=item.path, cap=cap
        )
    return data


def is_url(uri: str) -> bool:
    """Whether an item's file is a URL for fsspec (``s3://...``) rather than a local path."""
    scheme, sep, _ = uri.partition("://")
    return bool(sep) and scheme.isascii() and scheme.replace("+", "").isalnum() \
        and scheme.lower() != "file"


def local_path(uri: str) -> str:
    """A local path as given, or the path of a ``file://`` URL."""
    return uri[len("file://"):] if uri.lower().startswith("file://") else uri


def open_uri(uri: str):
    """A binary file object for a local path or any fsspec URL (the workers' mounts decide which
    protocols work: ``s3://`` needs s3fs installed and credentials where the worker runs)."""
    if not is_url(uri):
        return open(local_path(uri), "rb")
    import fsspec

    return fsspec.open(uri, "rb").open()


def _member_info(zf: zipfile.ZipFile, item: Item) -> zipfile.ZipInfo:
    # By its place, not its name: of two members with one name, zipfile's name lookup finds
    # only the last.
    if item.index == 0:
        return zf.getinfo(item.member)
    infos = zf.infolist()
    if item.index > len(infos) or infos[item.index - 1].filename != item.member:
        raise ValidationError(
            "detection.member_moved",
            "{path} is no longer member {index} of its archive (the archive changed since it "
            "was listed); scan the archive again",
            path=item.path, index=item.index)
    return infos[item.index - 1]
