"""Files that hold personal data: created readable by their owner only, in folders only they enter.

The SQLite database and its `-wal`/`-shm`, key files, backups, scan reports and the demo accounts
file hold study codes, offences, password hashes or keys; a 0644 file in a 0755 folder would let
every local user read them. No umask is changed (it is the whole process's, and the dashboard
serves from several threads): files are opened with mode 0600 and tightened after the fact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path | str, *, tighten_existing: bool = False) -> Path:
    """Create a folder (and its missing parents) 0700. With `tighten_existing`, an existing one of
    ours loses its group and other bits (only for dscr's own data folder: never for a folder the
    database URL merely points into, such as /tmp)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            pass
        _tighten(folder, PRIVATE_DIR)
    if not missing and tighten_existing:
        _tighten(path, PRIVATE_DIR)
    return path


def tighten(path: Path | str) -> None:
    """Make an existing file 0600 when it is wider (and ours); a missing file is left missing."""
    _tighten(Path(path), PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        os.chmod(path, (st.st_mode & 0o700) | mode)


def sqlite_files(db_path: Path | str) -> list[Path]:
    """The database file and the side files SQLite keeps beside it."""
    db_path = Path(db_path)
    return [db_path] + [db_path.with_name(db_path.name + s) for s in SQLITE_SIDE_FILES]


def create_private_file(path: Path | str) -> None:
    """Create an empty 0600 file when there is none (SQLite then creates its side files 0600 too:
    it gives them the database file's mode)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        tighten(path)
        return
    os.close(fd)


def write_private(path: Path | str, data: bytes | str) -> Path:
    """Write a file whole or not at all (a temporary file beside it, renamed), mode 0600."""
    out = Path(path)
    if not out.parent.exists():
        private_dir(out.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.chmod(tmp, PRIVATE_FILE)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out
