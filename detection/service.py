"""Use cases of detection: the hash registry of past cases, scans for re-uploads, review, takedowns.

Only hashes, region signatures (keypoint positions and descriptors) and case references are
stored: registry files and scanned uploads are read into memory, hashed and dropped. The hashing
runs in worker processes, local or on a Dask cluster (detection.engines, detection.analysis);
matching and every database write stay in this process. The rules live in pure modules this one
calls: where files come from (detection.sources, detection.manifests for crawl manifests),
matching (detection.matching), the hash-list format (detection.hashlist), takedown states
(detection.takedowns).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from db import access
from db.conflicts import account_name, at_time
from db.context import Context, local_times
from casework.notes_guard import FIELDS, check_note
from db.schema import (
    Account,
    Case,
    EventProposal,
    Flag,
    HashEntry,
    RegionSignature,
    Scan,
    ScanItem,
    TakedownRequest,
    utcnow,
)
from detection import hashlist, manifests, regions
from detection import takedowns as takedown_states  # `takedowns` is the use case below
from detection.analysis import Analysis, AnalysisOptions, analyse, run_parallel
from detection.engines import Engine, LocalEngine, engine_for
from detection.hashing import HASHERS
from detection.hashlist import validate_case_ref
from detection.manifests import ItemSource
from detection.matching import Match, Matcher, RegistryEntry
from detection.media import VIDEO
from detection.sources import (
    DEFAULT_LIMITS,
    MAX_LABEL,
    Item,
    Limits,
    Refused,
    list_source,
    list_upload,
    shown_name,
)
from errors import Conflict, Message, NotFound, ValidationError

Progress = Callable[[int, int], None]



# --- shared helpers ---------------------------------------------------------------------------


def _who(ctx: Context, account_id: int | None) -> str | Message:
    return account_name(ctx.session, account_id)


def _check_text(value: str | None, what: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError("detection.required_say_why_sentence",
                              "a {what} is required; say why, in a sentence",
                              what=FIELDS.get(what, what))
    if text:
        check_note(text, field=what)
    return text or None


def _case_by_ref(ctx: Context, case_ref: str) -> Case | None:
    return ctx.session.scalars(select(Case).where(Case.case_ref == case_ref)).one_or_none()


def _new_registry_case(ctx: Context, case_ref: str) -> Case:
    # A past case known only to the registry (content reported by a platform or another agency):
    # it belongs to no participant, and the dates say when dscr first heard of it.
    case = Case(
        case_ref=case_ref,
        participant_id=None,
        offence_date=ctx.today,
        referral_date=ctx.today,
        referral_source="other",
    )
    ctx.session.add(case)
    ctx.session.flush()
    return case


# --- registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A file that was skipped, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class RegistryAddResult:
    case_ref: str
    files_hashed: int
    entries_added: int
    entries_merged: int
    region_signatures_added: int
    problems: tuple[Problem, ...]


def _source_label(digest: str) -> str:
    # The registry item: files with the same bytes are one item whatever they were called (a file
    # name of victims' content can itself identify someone, so it is not kept).
    return "sha256:" + digest[:32]


def _frame_variant(frame, variant: str) -> str:
    if frame.index is None:
        return variant
    base = f"t={frame.time:.1f}s" if frame.time is not None else f"f={frame.index}"
    return (base + ("/trim" if variant != "plain" else ""))[:16]


def add_to_registry(
    ctx: Context,
    *,
    case_ref: str,
    paths: Sequence[str | os.PathLike],
    new_case: bool = False,
    workers: int = 1,
    progress: Progress | None = None,
) -> RegistryAddResult:
    """Hash images and videos (files, folders or zips) into the registry under a case.

    Every hasher runs; images get the 8 dihedral variants and a border-trimmed hash and a region
    signature, videos their sampled frames (plain and trimmed). Hashes already in the registry for
    this case are merged, not doubled. Files that cannot be hashed are reported and skipped.
    ``new_case`` registers a case reference dscr does not know yet (a case of no participant).
    """
    access.require(ctx, "registry.manage")
    ref = validate_case_ref(case_ref)
    if not paths:
        raise ValidationError("detection.give_least_one_file",
                              "give at least one file or folder to add to the registry")
    _registry_case_known(ctx, ref, new_case)
    items: list[Item] = []
    problems: list[Problem] = []
    for p in paths:
        found, refused = list_source(p)
        many = Path(p).is_dir() or len(found) + len(refused) > 1
        prefix = shown_name(Path(p).name) + "/" if many else ""
        items += [dataclasses.replace(i, path=prefix + i.path) for i in found]
        problems += [Problem(prefix + r.path, r.reason) for r in refused]
    return _register(ctx, ref, items, problems, workers=workers, progress=progress)


Upload = tuple[str, bytes]  # (file name, bytes): what st.file_uploader gives


def add_uploads_to_registry(
    ctx: Context,
    *,
    case_ref: str,
    uploads: Sequence[Upload],
    new_case: bool = False,
    progress: Progress | None = None,
) -> RegistryAddResult:
    """``add_to_registry`` for uploaded files (images, videos or zips) held in memory.

    The bytes are hashed in this process and dropped; nothing is written to disk except a
    video's bytes for PyAV, in a private temporary file deleted at once. A zip goes through the
    scanner's zip checks (no path traversal, no links, no bombs).
    """
    access.require(ctx, "registry.manage")
    ref = validate_case_ref(case_ref)
    if not uploads:
        raise ValidationError("detection.choose_least_one_image",
                              "choose at least one image, video or zip to add to the registry")
    _registry_case_known(ctx, ref, new_case)
    items: list[Item] = []
    problems: list[Problem] = []
    for name, data in uploads:
        found, refused = list_upload(name, data)
        zipped = any(i.member is not None for i in found) or len(found) + len(refused) > 1
        prefix = _upload_label(name) + "/" if zipped else ""
        items += [dataclasses.replace(i, path=prefix + i.path) for i in found]
        problems += [Problem(prefix + r.path, r.reason) for r in refused]
    # In this process: an upload is at most the server's upload limit, and handing its bytes to
    # worker processes would copy the whole archive once per member.
    return _register(ctx, ref, items, problems, workers=1, progress=progress)


def _upload_label(name: str) -> str:
    # The base name only: a browser may send a client-side folder with it.
    return Path((name or "upload").replace("\\", "/")).name or "upload"


def _registry_case_known(ctx: Context, ref: str, new_case: bool) -> None:
    with ctx.transaction():
        case = _case_by_ref(ctx, ref)
        if case is None and not new_case:
            raise NotFound(
                "detection.no_case_check_reference",
                "No case {ref!r}. Check the reference, or pass --new-case to register it as a "
                "case of no programme participant.",
                ref=ref
            )


def _register(
    ctx: Context,
    ref: str,
    items: list[Item],
    problems: list[Problem],
    *,
    workers: int,
    progress: Progress | None,
) -> RegistryAddResult:
    options = AnalysisOptions(mode="registry")
    analyses: list[Analysis] = []
    for n, a in enumerate(run_parallel(analyse, [(i, options) for i in items], workers=workers)):
        if a.ok:
            analyses.append(a)
        else:
            problems.append(Problem(a.path, a.error or "cannot be hashed"))
        if progress is not None:
            progress(n + 1, len(items))
    added = merged = regions_added = 0
    with ctx.transaction() as s:
        case = _case_by_ref(ctx, ref) or _new_registry_case(ctx, ref)
        existing = {
            (e.algorithm, e.hash_hex): e
            for e in s.scalars(select(HashEntry).where(HashEntry.case_id == case.id))
        }
        with_region = set(
            s.scalars(
                select(RegionSignature.hash_entry_id)
                .join(HashEntry, HashEntry.id == RegionSignature.hash_entry_id)
                .where(HashEntry.case_id == case.id)
            )
        )
        for a in analyses:
            label = _source_label(a.digest or "")
            for frame in a.frames:
                anchor: HashEntry | None = None
                for alg, pairs in frame.hashes.items():
                    hasher = HASHERS[alg]
                    for variant, hx in pairs:
                        key = (alg, hx)
                        entry = existing.get(key)
                        if entry is None:
                            entry = HashEntry(
                                case_id=case.id,
                                algorithm=alg,
                                bits=hasher.bits,
                                hash_hex=hx,
                                variant=_frame_variant(frame, variant),
                                media_kind=a.kind or "image",
                                source_label=label,
                                added_by=ctx.actor.id,
                            )
                            s.add(entry)
                            existing[key] = entry
                            added += 1
                        else:
                            merged += 1
                        if alg == "pdq" and variant == "original":
                            anchor = entry
                if frame.region is not None and anchor is not None:
                    s.flush()
                    if anchor.id not in with_region:
                        s.add(
                            RegionSignature(
                                hash_entry_id=anchor.id,
                                algorithm=regions.ALGORITHM,
                                signature=frame.region,
                            )
                        )
                        with_region.add(anchor.id)
                        regions_added += 1
    return RegistryAddResult(
        ref, len(analyses), added, merged, regions_added, tuple(problems)
    )


@dataclass(frozen=True)
class ImportResult:
    rows: int
    entries_added: int
    entries_merged: int
    cases_created: tuple[str, ...]


def _read_hash_csv(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("detection.hash_list_read_utf",
                              "hash list {path} cannot be read as UTF-8 text ({exc})",
                              path=path, exc=exc) from exc


IMPORT_BATCH = 2000  # hash-list rows written per transaction


def import_hash_list(
    ctx: Context, file: str | os.PathLike, *, new_cases: bool = False,
    batch_size: int = IMPORT_BATCH,
) -> ImportResult:
    """Read a CSV hash list (algorithm, hash, case[, variant, media_kind, item]) into the registry.

    Every row is checked first, and every case it names; any malformed row is reported with its
    line number and nothing is written. Hashes already held for the case are merged. PDQ hashes
    are 64 hex digits, as ThreatExchange and StopNCII exchange them.

    The checked rows are then written `batch_size` at a time, each batch in a transaction of its
    own, so that a list of 300,000 rows holds the database's write lock for one batch at a time
    and other users' work goes on between batches. If the process dies (or the database goes
    away) part-way, the batches committed before stay, each with its audit entries, and the rest
    is not written; importing the same list again adds only what is missing (the rows held
    already are merged), so a rerun finishes the import.
    """
    access.require(ctx, "registry.manage")
    path = Path(file)
    rows = hashlist.parse(_read_hash_csv(path), path)
    return _import_rows(ctx, rows, path, new_cases=new_cases, batch_size=batch_size)


def import_hash_list_bytes(
    ctx: Context, data: bytes, *, name: str = "hash-list.csv", new_cases: bool = False,
    batch_size: int = IMPORT_BATCH,
) -> ImportResult:
    """``import_hash_list`` for an uploaded CSV held in memory; the same checks and batches."""
    access.require(ctx, "registry.manage")
    path = Path(_upload_label(name))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            "detection.hash_list_read_utf_2",
            "hash list {path_name} cannot be read as UTF-8 text ({exc}); save it as UTF-8 CSV",
            path_name=path.name, exc=exc
        ) from exc
    return _import_rows(ctx, hashlist.parse(text, path), path, new_cases=new_cases,
                        batch_size=batch_size)


def _import_rows(
    ctx: Context, parsed: list[hashlist.HashListRow], path: Path, *, new_cases: bool,
    batch_size: int = IMPORT_BATCH,
) -> ImportResult:
    if batch_size < 1:
        raise ValidationError("hashlist.batch_size",
                              "the import batch size must be at least 1, got {size}",
                              size=batch_size)
    added = merged = 0
    created: list[str] = []
    s = ctx.session
    # Checked before anything is written, in a read that takes no lock.
    refs = sorted({p.case_ref for p in parsed})
    cases = {c.case_ref: c.id for c in s.scalars(select(Case).where(Case.case_ref.in_(refs)))}
    s.rollback()
    unknown = [r for r in refs if r not in cases]
    if unknown and not new_cases:
        first_line = {p.case_ref: p.line for p in reversed(parsed)}
        shown = "; ".join(f"line {first_line[r]}: case {r!r}" for r in unknown[:5])
        raise NotFound(
            "detection.hash_list_names_cases",
            "hash list {path_name} names cases dscr does not hold ({shown}); nothing was "
            "written. Check the references, or import with --new-cases to register them as "
            "cases of no programme participant.",
            path_name=path.name, shown=shown
        )
    if unknown:
        with ctx.transaction():
            for r in unknown:
                # Another import may have registered it since the check.
                held = s.scalar(select(Case.id).where(Case.case_ref == r))
                if held is None:
                    held = _new_registry_case(ctx, r).id
                    created.append(r)
                cases[r] = held
    for start in range(0, len(parsed), batch_size):
        batch = parsed[start:start + batch_size]
        with ctx.transaction():
            # Read again inside each batch's write transaction: what another import wrote
            # meanwhile, or a rerun after a crash, is merged, not added twice.
            hashes = sorted({p.hash_hex for p in batch})
            seen = set(
                s.execute(
                    select(HashEntry.algorithm, HashEntry.hash_hex, HashEntry.case_id).where(
                        HashEntry.hash_hex.in_(hashes),
                        HashEntry.case_id.in_(sorted({cases[p.case_ref] for p in batch})),
                    )
                ).all()
            )
            for p in batch:
                key = (p.algorithm, p.hash_hex, cases[p.case_ref])
                if key in seen:
                    merged += 1
                    continue
                seen.add(key)
                s.add(
                    HashEntry(
                        case_id=cases[p.case_ref],
                        algorithm=p.algorithm,
                        bits=HASHERS[p.algorithm].bits,
                        hash_hex=p.hash_hex,
                        variant=p.variant,
                        media_kind=p.media_kind,
                        source_label=p.item,
                        added_by=ctx.actor.id,
                    )
                )
                added += 1
    return ImportResult(len(parsed), added, merged, tuple(created))


def hash_list_rows(ctx: Context) -> list[tuple[str, ...]]:
    """The registry as hash-list rows (algorithm, hash, case, variant, media_kind, item), oldest first.

    What the exchange format holds (`detection.hashlist.COLUMNS`); `exports.service.hash_list`
    writes it with its manifest.
    """
    access.require(ctx, "registry.manage")
    rows = [
        tuple(r)
        for r in ctx.session.execute(
            select(
                HashEntry.algorithm,
                HashEntry.hash_hex,
                Case.case_ref,
                HashEntry.variant,
                HashEntry.media_kind,
                HashEntry.source_label,
            )
            .join(Case, Case.id == HashEntry.case_id)
            .order_by(HashEntry.id)
        ).all()
    ]
    ctx.session.rollback()  # read only
    return rows


def registry_summary(ctx: Context) -> pd.DataFrame:
    """Registry entries counted by case and algorithm (columns case, algorithm, entries)."""
    access.require(ctx, "registry.read")
    with ctx.transaction() as s:
        rows = s.execute(
            select(Case.case_ref, HashEntry.algorithm, func.count(HashEntry.id))
            .join(Case, Case.id == HashEntry.case_id)
            .group_by(Case.case_ref, HashEntry.algorithm)
            .order_by(Case.case_ref, HashEntry.algorithm)
        ).all()
        region_rows = s.execute(
            select(Case.case_ref, func.count(RegionSignature.id))
            .join(HashEntry, HashEntry.id == RegionSignature.hash_entry_id)
            .join(Case, Case.id == HashEntry.case_id)
            .group_by(Case.case_ref)
        ).all()
    frame = pd.DataFrame(rows, columns=["case", "algorithm", "entries"])
    regions_df = pd.DataFrame(region_rows, columns=["case", "entries"]).assign(
        algorithm=regions.ALGORITHM
    )
    out = pd.concat([frame, regions_df[["case", "algorithm", "entries"]]], ignore_index=True)
    out["entries"] = out["entries"].astype(int)
    return out.sort_values(["case", "algorithm"], ignore_index=True)


REGISTRY_SOURCES = ("upload", "import")


def registry_growth(ctx: Context) -> pd.DataFrame:
    """Registry entries added per month (Seoul's calendar) by how they came: hashed here from
    uploaded files ("upload") or imported from a hash list ("import"). Columns month (the month's first day), source, entries; every month
    from the first to the last entry is present, with 0 where nothing was added."""
    from sqlalchemy import case, literal

    access.require(ctx, "registry.read")
    source = case((HashEntry.source_label.like("sha256:%"), literal("upload")),
                  else_=literal("import"))
    with ctx.transaction() as s:
        rows = s.execute(select(HashEntry.added_at, source)).all()
    empty = pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"),
                          "source": pd.Series(dtype=object), "entries": pd.Series(dtype=int)})
    if not rows:
        return empty
    frame = pd.DataFrame(rows, columns=["added_at", "source"])
    # Stored as UTC (naive): a moment just after midnight in Seoul on the 1st is that month's.
    frame["month"] = local_times(frame["added_at"]).dt.to_period("M").dt.to_timestamp()
    months = pd.date_range(frame["month"].min(), frame["month"].max(), freq="MS")
    counts = frame.groupby(["month", "source"]).size()
    full = pd.MultiIndex.from_product([months, list(REGISTRY_SOURCES)], names=["month", "source"])
    out = counts.reindex(full, fill_value=0).rename("entries").reset_index()
    out["source"] = out["source"].astype(object)
    out["entries"] = out["entries"].astype(int)
    return out


def _load_matcher(ctx: Context) -> tuple[Matcher, dict[int, str]]:
    s = ctx.session
    rows = s.execute(
        select(
            HashEntry.id,
            HashEntry.algorithm,
            HashEntry.hash_hex,
            HashEntry.case_id,
            HashEntry.source_label,
            HashEntry.media_kind,
        )
    ).all()
    entries = [
        RegistryEntry(r.id, r.algorithm, r.hash_hex, (r.case_id, r.source_label), r.media_kind)
        for r in rows
        if r.algorithm in HASHERS
    ]
    sigs = s.execute(select(RegionSignature.hash_entry_id, RegionSignature.signature)).all()
    case_refs = dict(s.execute(select(Case.id, Case.case_ref)).all())
    return Matcher(entries, [(e, bytes(b)) for e, b in sigs]), case_refs


# --- scans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchReport:
    flag_id: int
    case: str
    registry_id: int
    algorithm: str
    distance: int | None
    frames: list[dict[str, Any]] | None
    inliers: int | None
    flag_status: str


@dataclass(frozen=True)
class ItemReport:
    path: str
    status: str
    media_kind: str | None
    matches: tuple[MatchReport, ...]
    error: str | None
    # The member's place in its archive when two members may share the path; None for a file.
    member: int | None = None
    # Where a crawl manifest said the item was found; None for a folder, zip or upload scan.
    platform: str | None = None
    page_url: str | None = None


@dataclass(frozen=True)
class ScanReport:
    scan_id: int
    source: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    items: tuple[ItemReport, ...]
    totals: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `dscr scan --json` writes."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data


def _source_columns(source: ItemSource | None) -> dict[str, Any]:
    if source is None:
        return {}
    return {"source_platform": source.platform, "source_url": source.page_url,
            "first_seen": source.first_seen}


def _flag_for(
    ctx: Context, scan_id: int, item_path: str, digest: str, match: Match,
    source: ItemSource | None = None,
) -> None:
    # item_path: the item's label (_item_labels), which tells two members of one name apart
    s = ctx.session
    exists = s.scalar(
        select(Flag.id).where(Flag.item_digest == digest, Flag.hash_entry_id == match.entry_id)
    )
    if exists is not None:
        return  # the same content matched the same registry entry before: one flag is enough
    frames = list(match.frames) if match.frames is not None else None
    if match.inliers is not None:
        frames = [{"inliers": match.inliers}]
    s.add(
        Flag(
            scan_id=scan_id,
            item_path=item_path[:1024],
            item_digest=digest,
            hash_entry_id=match.entry_id,
            algorithm=match.algorithm[:16],
            # The region stage has no bit distance; its evidence (inliers) sits in frames.
            distance=match.distance if match.distance is not None else 0,
            frames=frames,
            **_source_columns(source),
        )
    )


def scan_folders(ctx: Context) -> list[str]:
    """The server folders a scan may read (DSCR_SCAN_ROOT, else `<data dir>/scan-inbox`)."""
    access.require(ctx, "scan.run")
    return [os.fspath(p) for p in ctx.runtime.settings.scan_folders]


def _inside_scan_folders(ctx: Context, source: str | os.PathLike) -> Path:
    """The source, resolved (links followed), if it lies in one of the scan folders."""
    path = Path(source).expanduser().resolve()
    roots = [p.resolve() for p in ctx.runtime.settings.scan_folders]
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise ValidationError(
            "detection.outside_folders_scans_may",
            "{path} is outside the folders scans may read ({os_fspath}); put the files in one "
            "of them, upload a zip instead, or have the administrator set DSCR_SCAN_ROOT",
            path=path, os_fspath=', '.join(map(os.fspath, roots)))
    return path


def _engine(ctx: Context, workers: int, cluster: str | None, engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    return engine_for(workers=workers, cluster=cluster or ctx.runtime.settings.dask_scheduler)


def run_scan(
    ctx: Context,
    source: str | os.PathLike,
    *,
    workers: int = 2,
    cluster: str | None = None,
    engine: Engine | None = None,
    resume_scan_id: int | None = None,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ScanReport:
    """Scan a folder, a zip or a file for re-uploads of registry content; returns the report.

    Files are hashed in ``workers`` local processes, or on the Dask cluster whose scheduler is
    ``cluster`` (default DSCR_DASK_SCHEDULER; ``engine`` gives one ready made), and matched
    against the registry in this process; each file's result (and its flags) is committed as it
    arrives, so an interrupted scan resumes with ``resume_scan_id`` where it stopped. Flags are
    unique per (content, registry entry): scanning the same content again does not add flags.
    """
    access.require(ctx, "scan.run")
    source = _inside_scan_folders(ctx, source)
    label = shown_name(os.fspath(source))[:256]
    items, refused = list_source(source, limits)
    return _scan(ctx, label, items, refused, engine=_engine(ctx, workers, cluster, engine),
                 resume_scan_id=resume_scan_id, progress=progress)


def run_scan_upload(
    ctx: Context,
    name: str,
    data: bytes,
    *,
    resume_scan_id: int | None = None,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ScanReport:
    """``run_scan`` for an uploaded zip (or single file) held in memory.

    The zip goes through the same checks as a zip on disk (path traversal, links, encrypted
    members, bombs); its members are read from memory, hashed in this process and dropped. The
    scan is labelled with the upload's name and SHA-256, so uploading the same archive again
    resumes an interrupted scan of it.
    """
    access.require(ctx, "scan.run")
    digest = hashlib.sha256(data).hexdigest()
    label = f"upload:{digest[:16]}:{_upload_label(name)}"[:256]
    items, refused = list_upload(name, data, limits)
    # In this process: the bytes of an upload never go to worker processes or a cluster.
    return _scan(ctx, label, items, refused, engine=LocalEngine(1),
                 resume_scan_id=resume_scan_id, progress=progress)


def run_manifest_scan(
    ctx: Context,
    file: str | os.PathLike,
    *,
    workers: int = 2,
    cluster: str | None = None,
    engine: Engine | None = None,
    resume_scan_id: int | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """``run_scan`` over the items a crawl manifest lists, each keeping where it was found.

    The manifest (a CSV: uri, platform, page_url, first_seen; see detection.manifests) lies in
    a scan folder, and so does every item that is a local path; an item that is a URL must be
    under a prefix of DSCR_SCAN_URLS. Every line is checked before anything is written: a bad
    line refuses the whole manifest, naming it. The scan is labelled with the manifest's name
    and SHA-256, so scanning the same manifest again with ``resume_scan_id`` resumes it. Each
    item's source is kept on its scan item and its flags, and a confirmed flag's takedown
    request names the platform and page.
    """
    access.require(ctx, "scan.run")
    path = _inside_scan_folders(ctx, file)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("detection.manifest_read",
                              "crawl manifest {path} cannot be read as UTF-8 text ({exc})",
                              path=path, exc=exc) from exc
    settings = ctx.runtime.settings
    rows = manifests.parse(text, path, roots=settings.scan_folders, prefixes=settings.scan_urls)
    items, sources = manifests.items(rows)
    label = _manifest_label(hashlib.sha256(data).hexdigest(), path)
    return _scan(ctx, label, items, [], engine=_engine(ctx, workers, cluster, engine),
                 resume_scan_id=resume_scan_id, progress=progress, sources=sources)


MANIFEST_PREFIX = "manifest:"


def _manifest_label(digest: str, path: Path) -> str:
    # The digest first: a resumed scan must read the same manifest, not one edited since.
    return f"{MANIFEST_PREFIX}{digest[:16]}:{shown_name(os.fspath(path))}"[:256]


def manifest_of(source_label: str) -> str | None:
    """The manifest's path of a manifest scan's label (what resuming it reads), else None."""
    if not source_label.startswith(MANIFEST_PREFIX):
        return None
    return source_label.split(":", 2)[2]


def _item_labels(keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """How a flag and a message name each item: its path, and its member index when the archive
    holds another member of that path."""
    shared = Counter(path for path, _ in keys)
    return {
        (path, index): (f"{path} (member {index})" if shared[path] > 1 else path)[:MAX_LABEL]
        for path, index in keys
    }


def _stored_keys(ctx: Context, scan_id: int) -> set[tuple[str, int]]:
    return {
        (path, member)
        for path, member in ctx.session.execute(
            select(ScanItem.path, ScanItem.member).where(ScanItem.scan_id == scan_id)
        )
    }


def _scan(
    ctx: Context,
    label: str,
    items: list[Item],
    refused: list[Refused],
    *,
    engine: Engine,
    resume_scan_id: int | None,
    progress: Progress | None,
    sources: dict[tuple[str, int], ItemSource] | None = None,
) -> ScanReport:
    s = ctx.session
    keys = [r.key for r in refused] + [i.key for i in items]
    labels = _item_labels(keys)
    with ctx.transaction():
        if resume_scan_id is not None:
            scan = s.get(Scan, resume_scan_id)
            if scan is None:
                raise NotFound("detection.no_scan_dscr_scan",
                               "No scan {resume_scan_id}; `dscr scan` lists none by that id.",
                               resume_scan_id=resume_scan_id)
            if scan.source_label != label:
                raise ValidationError(
                    "detection.scan_scanned_not_resume",
                    "scan {resume_scan_id} scanned {scan_source_label}, not {label}; resume it "
                    "with the same folder or zip",
                    resume_scan_id=resume_scan_id, scan_source_label=scan.source_label,
                    label=label
                )
            done = _stored_keys(ctx, scan.id)
            if scan.status == "finished" and done.issuperset(keys):
                return _report(ctx, scan.id)  # nothing left to do
            # A scan marked finished with a file it never analysed (as an older dscr could)
            # is opened again: it is finished only when every file is.
            scan.status = "running"
            scan.finished_at = None
            scan.items_total = max(scan.items_total, len(keys), len(done))
        else:
            scan = Scan(
                source_label=label,
                status="running",
                items_total=len(keys),
                items_done=0,
                started_by=ctx.actor.id,
            )
            s.add(scan)
            done = set()
        s.flush()
        scan_id = scan.id
    matcher, _case_refs = _load_matcher(ctx)
    total = len(keys)
    count = len(done)
    try:
        for r in refused:
            if r.key in done:
                continue
            with ctx.transaction():
                s.add(ScanItem(scan_id=scan_id, path=r.path, member=r.index, status="error",
                               error=r.reason))
                count += 1
                s.get(Scan, scan_id).items_done = min(count, s.get(Scan, scan_id).items_total)
            if progress is not None:
                progress(count, total)
        todo = [(i, AnalysisOptions()) for i in items if i.key not in done]
        wanted = {i.key for i, _ in todo}
        sources = sources or {}
        for a in engine.run(todo):
            key = (a.path, a.index)
            if key not in wanted:
                continue  # a result delivered twice (a task rerun elsewhere) is stored once
            wanted.discard(key)
            matches = matcher.match(a) if a.ok else []
            source = sources.get(key)
            with ctx.transaction():
                status = "error" if not a.ok else ("flagged" if matches else "clear")
                s.add(
                    ScanItem(
                        scan_id=scan_id,
                        path=a.path,
                        member=a.index,
                        item_digest=a.digest,
                        media_kind=a.kind if a.kind in ("image", VIDEO) else None,
                        status=status,
                        error=a.error,
                        **_source_columns(source),
                    )
                )
                for m in matches:
                    _flag_for(ctx, scan_id, labels[key], a.digest or "", m, source)
                count += 1
                s.get(Scan, scan_id).items_done = min(count, s.get(Scan, scan_id).items_total)
            if progress is not None:
                progress(count, total)
    except BaseException as exc:
        s.rollback()
        with ctx.transaction():
            scan = s.get(Scan, scan_id)
            scan.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        raise
    _finish_scan(ctx, scan_id, keys, labels)
    return _report(ctx, scan_id)


def _finish_scan(
    ctx: Context,
    scan_id: int,
    keys: Sequence[tuple[str, int]],
    labels: dict[tuple[str, int], str],
) -> None:
    """Mark the scan finished, or failed (to be resumed) when a file of it has no stored result.

    Every listed file must be analysed or listed as an error first: a scan that says
    "finished" while a file was never looked at would let that file dodge detection.
    """
    with ctx.transaction():
        scan = ctx.session.get(Scan, scan_id)
        stored = _stored_keys(ctx, scan_id)
        missing = [k for k in keys if k not in stored]
        if missing:
            scan.status = "failed"
        else:
            scan.status = "finished"
            scan.items_done = min(len(stored), scan.items_total)
            scan.finished_at = utcnow()
    if missing:
        raise Conflict(
            "detection.scan_incomplete",
            "scan {scan_id} is not finished: {missing} of its {total} files were neither "
            "analysed nor listed as errors (the first is {first}); resume the scan to scan them",
            scan_id=scan_id, missing=len(missing), total=len(keys), first=labels[missing[0]],
        )


def scan_report(ctx: Context, scan_id: int) -> ScanReport:
    """The report of a stored scan (finished, interrupted or running)."""
    access.require(ctx, "scan.run")
    return _report(ctx, scan_id)


@dataclass(frozen=True)
class ScanView:
    """One past scan, as the list of scans shows it."""

    id: int
    source: str
    status: str
    items_total: int
    items_done: int
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None


def list_scans(ctx: Context, *, limit: int = 100) -> list[ScanView]:
    """Past scans, newest first (an interrupted or failed one can be resumed)."""
    access.require(ctx, "scan.run")
    with ctx.transaction() as s:
        rows = s.execute(
            select(Scan, Account.username)
            .join(Account, Account.id == Scan.started_by)
            .order_by(Scan.started_at.desc(), Scan.id.desc())
            .limit(limit)
        ).all()
        return [
            ScanView(sc.id, sc.source_label, sc.status, sc.items_total, sc.items_done, who,
                     sc.started_at, sc.finished_at)
            for sc, who in rows
        ]


def _report(ctx: Context, scan_id: int) -> ScanReport:
    with ctx.transaction() as s:
        scan = s.get(Scan, scan_id)
        if scan is None:
            raise NotFound("detection.no_scan", "No scan {scan_id}.", scan_id=scan_id)
        items = s.scalars(
            select(ScanItem)
            .where(ScanItem.scan_id == scan_id)
            .order_by(ScanItem.path, ScanItem.member)
        ).all()
        digests = {i.item_digest for i in items if i.item_digest and i.status == "flagged"}
        flags = []
        if digests:
            flags = s.execute(
                select(Flag, Case.case_ref)
                .join(HashEntry, HashEntry.id == Flag.hash_entry_id)
                .join(Case, Case.id == HashEntry.case_id)
                .where(Flag.item_digest.in_(digests))
                .order_by(Flag.distance, Flag.id)
            ).all()
        by_digest: dict[str, list[MatchReport]] = {}
        for flag, case_ref in flags:
            region = flag.algorithm == regions.ALGORITHM
            inliers = None
            frames = flag.frames
            if region and frames:
                inliers = int(frames[0].get("inliers", 0))
                frames = None
            by_digest.setdefault(flag.item_digest, []).append(
                MatchReport(
                    flag.id,
                    case_ref,
                    flag.hash_entry_id,
                    flag.algorithm,
                    None if region else flag.distance,
                    frames,
                    inliers,
                    flag.status,
                )
            )
        reports = tuple(
            ItemReport(
                i.path,
                i.status,
                i.media_kind,
                tuple(by_digest.get(i.item_digest, ())) if i.status == "flagged" else (),
                i.error,
                i.member or None,
                i.source_platform,
                i.source_url,
            )
            for i in items
        )
        totals = {
            "items": len(reports),
            "flagged": sum(r.status == "flagged" for r in reports),
            "clear": sum(r.status == "clear" for r in reports),
            "error": sum(r.status == "error" for r in reports),
            "matches": sum(len(r.matches) for r in reports),
        }
        return ScanReport(
            scan.id,
            scan.source_label,
            scan.status,
            scan.started_at,
            scan.finished_at,
            reports,
            totals,
        )


# --- review and takedowns ---------------------------------------------------------------------


@dataclass(frozen=True)
class FlagView:
    id: int
    scan_id: int
    item_path: str
    case: str
    registry_id: int
    algorithm: str
    distance: int
    frames: list[dict[str, Any]] | None
    status: str
    created_at: dt.datetime
    reviewed_by: str | None
    review_reason: str | None
    version: int
    # Whether a confirmed flag proposed a follow-up event to the analysts, and what became of
    # it (proposed, accepted, rejected); None when the case belongs to no participant.
    event_proposal: str | None = None
    # Where a crawl manifest said the item was found; None for a folder, zip or upload scan.
    source_platform: str | None = None
    source_url: str | None = None
    first_seen: dt.datetime | None = None


def review_queue(ctx: Context, *, status: str | None = "pending") -> list[FlagView]:
    """Flags for a reviewer, oldest first (``status=None``: all of them)."""
    access.require(ctx, "flag.review")
    with ctx.transaction() as s:
        stmt = (
            select(Flag, Case.case_ref, Account.username, EventProposal.status)
            .join(HashEntry, HashEntry.id == Flag.hash_entry_id)
            .join(Case, Case.id == HashEntry.case_id)
            .outerjoin(Account, Account.id == Flag.reviewed_by)
            .outerjoin(EventProposal, EventProposal.flag_id == Flag.id)
            .order_by(Flag.created_at, Flag.id)
        )
        if status is not None:
            stmt = stmt.where(Flag.status == status)
        return [
            FlagView(
                f.id,
                f.scan_id,
                f.item_path,
                ref,
                f.hash_entry_id,
                f.algorithm,
                f.distance,
                f.frames,
                f.status,
                f.created_at,
                who,
                f.review_reason,
                f.version,
                proposal,
                f.source_platform,
                f.source_url,
                f.first_seen,
            )
            for f, ref, who, proposal in s.execute(stmt).all()
        ]


@dataclass(frozen=True)
class ReviewOutcome:
    flag_id: int
    status: str
    takedown_id: int | None
    event_proposal_id: int | None


def review_flag(
    ctx: Context, flag_id: int, *, decision: str, reason: str, expected_version: int
) -> ReviewOutcome:
    """Confirm or reject a pending flag with a reason.

    Confirming opens a takedown request and, when the case belongs to a programme participant,
    proposes a follow-up event for an analyst to accept or reject; nothing else is decided.
    """
    access.require(ctx, "flag.review")
    if decision not in ("confirm", "reject"):
        raise ValidationError("detection.decision_confirm_reject",
                              "decision must be confirm or reject, got {decision!r}",
                              decision=decision)
    why = _check_text(reason, "reason", required=True)
    s = ctx.session
    try:
        with ctx.transaction():
            flag = s.get(Flag, flag_id)
            if flag is None:
                raise NotFound("detection.no_flag_dscr_flags",
                               "No flag {flag_id}; `dscr flags list` shows the pending ones.",
                               flag_id=flag_id)
            if flag.version != expected_version or flag.status != "pending":
                if flag.status != "pending":
                    raise Conflict(
                        "detection.flag_reviewed_already",
                        "flag {flag_id} was {status} by {who}{when} (version {version}, you had "
                        "version {expected}); reload the queue before reviewing it",
                        flag_id=flag_id, status=flag.status, who=_who(ctx, flag.reviewed_by),
                        when=at_time(flag.reviewed_at), version=flag.version,
                        expected=expected_version)
                raise Conflict(
                    "detection.flag_changed",
                    "flag {flag_id} changed since you opened it (version {version}, you had "
                    "{expected}); reload it and review again",
                    flag_id=flag_id, version=flag.version, expected=expected_version)
            now = utcnow()
            flag.status = "confirmed" if decision == "confirm" else "rejected"
            flag.reviewed_by = ctx.actor.id
            flag.reviewed_at = now
            flag.review_reason = why
            takedown_id = proposal_id = None
            if decision == "confirm":
                takedown = TakedownRequest(
                    flag_id=flag.id,
                    # A crawled item's source says where the request goes.
                    platform=flag.source_platform or "",
                    page_url=flag.source_url,
                    status=takedown_states.INITIAL,
                    requested_by=ctx.actor.id,
                    requested_at=now,
                    updated_at=now,
                    updated_by=ctx.actor.id,
                )
                s.add(takedown)
                entry = s.get(HashEntry, flag.hash_entry_id)
                case = s.get(Case, entry.case_id)
                proposal = None
                if case.participant_id is not None:
                    proposal = EventProposal(
                        flag_id=flag.id,
                        participant_id=case.participant_id,
                        proposed_date=ctx.today,
                        status="proposed",
                    )
                    s.add(proposal)
                s.flush()
                takedown_id = takedown.id
                proposal_id = proposal.id if proposal is not None else None
            s.flush()
            outcome = ReviewOutcome(flag.id, flag.status, takedown_id, proposal_id)
    except StaleDataError:
        flag = s.get(Flag, flag_id)
        raise Conflict(
            "detection.flag_reviewed_while_you",
            "flag {flag_id} was reviewed by {who}{when} while you were reviewing it; reload it",
            flag_id=flag_id, who=_who(ctx, flag.reviewed_by if flag else None),
            when=at_time(flag.reviewed_at if flag else None)
        ) from None
    return outcome


@dataclass(frozen=True)
class TakedownView:
    id: int
    flag_id: int
    status: str
    platform: str
    requested_at: dt.datetime
    updated_at: dt.datetime
    removed_at: dt.datetime | None
    reappeared_at: dt.datetime | None
    note: str | None
    version: int
    # The page the request names (from a crawl manifest's item); None when none is known.
    page_url: str | None = None


def _takedown_view(t: TakedownRequest) -> TakedownView:
    return TakedownView(
        t.id,
        t.flag_id,
        t.status,
        t.platform,
        t.requested_at,
        t.updated_at,
        t.removed_at,
        t.reappeared_at,
        t.note,
        t.version,
        t.page_url,
    )


def update_takedown(
    ctx: Context,
    takedown_id: int,
    *,
    status: str,
    expected_version: int,
    note: str | None = None,
    platform: str | None = None,
) -> TakedownView:
    """Move a takedown request on (requested -> removed/refused, removed -> reappeared, ...)."""
    access.require(ctx, "flag.review")
    takedown_states.check_status(status)
    text = _check_text(note, "note", required=False)
    if platform is not None and len(platform) > 128:
        raise ValidationError("detection.platform_most_characters",
                              "platform must be at most 128 characters")
    s = ctx.session
    try:
        with ctx.transaction():
            t = s.get(TakedownRequest, takedown_id)
            if t is None:
                raise NotFound("detection.no_takedown_request",
                               "No takedown request {takedown_id}.",
                               takedown_id=takedown_id)
            if t.version != expected_version:
                raise Conflict(
                    "detection.takedown_changed_version_you",
                    "takedown {takedown_id} was changed by {who}{when} (version {t_version}, "
                    "you had {expected_version}); reload it and try again",
                    takedown_id=takedown_id, who=_who(ctx, t.updated_by), when=at_time(t.updated_at),
                    t_version=t.version, expected_version=expected_version
                )
            takedown_states.check_transition(takedown_id, t.status, status)
            now = max(utcnow(), t.updated_at)
            t.status = status
            t.updated_at = now
            t.updated_by = ctx.actor.id
            if status == takedown_states.REMOVED:
                t.removed_at = now
            if status == takedown_states.REAPPEARED:
                t.reappeared_at = now
            if text is not None:
                t.note = text
            if platform is not None:
                t.platform = platform.strip()
            s.flush()
            view = _takedown_view(t)
    except StaleDataError:
        t = s.get(TakedownRequest, takedown_id)
        raise Conflict(
            "detection.takedown_changed_while_you",
            "takedown {takedown_id} was changed by {who}{when} while you were editing it; "
            "reload it",
            takedown_id=takedown_id, who=_who(ctx, t.updated_by if t else None),
            when=at_time(t.updated_at if t else None)
        ) from None
    return view


def takedowns_past_deadline(ctx: Context, now: dt.datetime) -> list[tuple[TakedownView, dt.timedelta]]:
    """Takedowns still waiting on their platform after `takedowns.RESPONSE_WINDOW`, with how
    long past it each is, the longest first: what the reviewer chases today."""
    late = []
    for view in takedowns(ctx):
        over = takedown_states.past_deadline(view.status, view.updated_at or view.requested_at, now)
        if over is not None:
            late.append((view, over))
    return sorted(late, key=lambda pair: pair[1], reverse=True)


def takedowns(ctx: Context, *, status: str | None = None) -> list[TakedownView]:
    """Takedown requests, newest first."""
    access.require(ctx, "flag.review")
    with ctx.transaction() as s:
        stmt = select(TakedownRequest).order_by(TakedownRequest.requested_at.desc())
        if status is not None:
            stmt = stmt.where(TakedownRequest.status == status)
        return [_takedown_view(t) for t in s.scalars(stmt)]

