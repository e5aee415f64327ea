"""Configuration from DSCR_* environment variables, with safe defaults for the embedded demo."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_file: Path
    study_key_file: Path
    user: str | None
    scan_roots: tuple[Path, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def scan_folders(self) -> tuple[Path, ...]:
        """The server folders a scan may read: DSCR_SCAN_ROOT, else `<data dir>/scan-inbox`."""
        return self.scan_roots or (self.data_dir / "scan-inbox",)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("DSCR_DATA_DIR") or "./var").expanduser().resolve()
    url = env.get("DSCR_DATABASE_URL") or f"sqlite:///{data_dir / 'dscr.sqlite3'}"
    key_file = Path(env.get("DSCR_KEY_FILE") or data_dir / "field.key").expanduser().resolve()
    # The study-code key is kept apart from the field key (PIPA Art. 28-4): whoever holds
    # pseudonymised exports and one key still cannot re-identify with it.
    study_key = Path(env.get("DSCR_STUDY_KEY_FILE") or data_dir / "study-code.key").expanduser()
    # Folders (os.pathsep between several) whose files a scan may read: a reviewer's dashboard
    # must not be a way to list or read whatever else the server holds.
    roots = tuple(Path(p).expanduser().resolve()
                  for p in (env.get("DSCR_SCAN_ROOT") or "").split(os.pathsep) if p.strip())
    return Settings(
        data_dir=data_dir,
        database_url=url,
        key_file=key_file,
        study_key_file=study_key.resolve(),
        user=env.get("DSCR_USER") or None,
        scan_roots=roots,
    )
