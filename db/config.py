"""Configuration: every DSCR_* environment variable is read here and nowhere else.

Each has a safe default for the embedded demo; the README's configuration table lists them all
(a test checks that the table and `VARIABLES` agree).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from errors import ConfigurationError

DEFAULT_PG_BINDIR = Path("/usr/lib/postgresql/15/bin")
DEFAULT_RETENTION_YEARS = 5
# Counts under this are hidden in every aggregate that leaves dscr (DESIGN.md, privacy rules).
DEFAULT_SUPPRESSION_THRESHOLD = 10
MIN_SUPPRESSION_THRESHOLD = 5
# The partners' matching API: requests a minute per token, the burst a token may spend at once,
# and how often a running server reads the registry's new hashes into its index.
DEFAULT_API_RATE = 120
DEFAULT_API_BURST = 20
DEFAULT_API_REFRESH_SECONDS = 2

# Every variable dscr reads, with what it is for (the README's table says the same in full).
VARIABLES: dict[str, str] = {
    "DSCR_DATA_DIR": "the embedded SQLite database and, by default, the key files",
    "DSCR_DATABASE_URL": "the database",
    "DSCR_KEY_FILE": "the field encryption keys",
    "DSCR_STUDY_KEY_FILE": "the HMAC key of the study codes",
    "DSCR_AUDIT_KEY_FILE": "the HMAC key of the audit chain",
    "DSCR_AUDIT_CHECKPOINTS": "the append-only file of the audit chain's checkpoints",
    "DSCR_USER": "the account the dscr command acts as",
    "DSCR_SCAN_ROOT": "the server folders a scan may read",
    "DSCR_SCAN_URLS": "the URL prefixes a crawl manifest's items may be read from",
    "DSCR_DASK_SCHEDULER": "the Dask scheduler scans hash on (default: local processes)",
    "DSCR_PG_BINDIR": "PostgreSQL's binaries, for backups and restores",
    "DSCR_RETENTION_YEARS": "how long identifying fields are kept",
    "DSCR_SUPPRESSION_THRESHOLD": "the smallest count an exported aggregate shows",
    "DSCR_API_RATE": "requests a minute each partner token may make to the matching API",
    "DSCR_API_BURST": "requests a partner token may make at once before the rate applies",
    "DSCR_API_REFRESH_SECONDS": "how often the matching API reads new registry hashes",
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_file: Path
    study_key_file: Path
    user: str | None
    scan_roots: tuple[Path, ...] = ()
    # URL prefixes (fsspec, e.g. s3://crawl-bucket/) a crawl manifest's items may name.
    scan_urls: tuple[str, ...] = ()
    # The Dask scheduler (tcp://HOST:8786) scans hash on; None: the local process pool.
    dask_scheduler: str | None = None
    pg_bindir: Path = DEFAULT_PG_BINDIR
    retention_years: int = DEFAULT_RETENTION_YEARS
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    # None: beside the field key (the audit key and its checkpoints are kept with the keys,
    # never in the database they protect).
    audit_key: Path | None = None
    audit_checkpoints: Path | None = None
    api_rate: int = DEFAULT_API_RATE
    api_burst: int = DEFAULT_API_BURST
    api_refresh_seconds: int = DEFAULT_API_REFRESH_SECONDS

    @property
    def audit_key_file(self) -> Path:
        return self.audit_key or self.key_file.with_name("audit-chain.key")

    @property
    def audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoints or self.key_file.with_name("audit-checkpoints.log")

    def __post_init__(self) -> None:
        check_threshold(self.suppression_threshold, "suppression_threshold")
        if not 1 <= self.retention_years <= 100:
            raise ConfigurationError(
                "db.retention_period_years",
                "the retention period must be 1..100 years, got {retention_years}.",
                retention_years=self.retention_years)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def scan_folders(self) -> tuple[Path, ...]:
        """The server folders a scan may read: DSCR_SCAN_ROOT, else `<data dir>/scan-inbox`."""
        return self.scan_roots or (self.data_dir / "scan-inbox",)


def check_threshold(value: object, where: str = "DSCR_SUPPRESSION_THRESHOLD") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_SUPPRESSION_THRESHOLD:
        raise ConfigurationError(
            "db.whole_number_least_default",
            "{where} must be a whole number of at least {min_suppression_threshold} (default "
            "{default_suppression_threshold}), got {value!r}.",
            where=where, min_suppression_threshold=MIN_SUPPRESSION_THRESHOLD,
            default_suppression_threshold=DEFAULT_SUPPRESSION_THRESHOLD, value=value)
    return value


def _whole(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "")
    if not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise ConfigurationError("db.whole_number",
                                 "{name} must be a whole number {lo}..{hi}, got {raw!r}.",
                                 name=name, lo=lo, hi=hi, raw=raw)
    return value


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else None


def _threshold(env: Mapping[str, str]) -> int:
    raw = env.get("DSCR_SUPPRESSION_THRESHOLD", "").strip()
    if not raw:
        return DEFAULT_SUPPRESSION_THRESHOLD
    try:
        value: object = int(raw)
    except ValueError:
        value = raw
    return check_threshold(value)


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
        scan_urls=tuple((env.get("DSCR_SCAN_URLS") or "").split()),
        dask_scheduler=(env.get("DSCR_DASK_SCHEDULER") or "").strip() or None,
        pg_bindir=Path(env.get("DSCR_PG_BINDIR") or DEFAULT_PG_BINDIR),
        retention_years=_whole(env, "DSCR_RETENTION_YEARS", DEFAULT_RETENTION_YEARS, 1, 100),
        suppression_threshold=_threshold(env),
        audit_key=_path(env, "DSCR_AUDIT_KEY_FILE"),
        audit_checkpoints=_path(env, "DSCR_AUDIT_CHECKPOINTS"),
        api_rate=_whole(env, "DSCR_API_RATE", DEFAULT_API_RATE, 1, 1_000_000),
        api_burst=_whole(env, "DSCR_API_BURST", DEFAULT_API_BURST, 1, 100_000),
        api_refresh_seconds=_whole(env, "DSCR_API_REFRESH_SECONDS", DEFAULT_API_REFRESH_SECONDS,
                                   1, 3600),
    )
