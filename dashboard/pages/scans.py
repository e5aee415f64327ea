"""The detection reviewer's scans: start one on a server folder or an uploaded zip, results, resume."""

import pandas as pd
import streamlit as st

from dashboard import dates, state
from dashboard.components import service_errors
from dashboard.i18n import label, t
from detection import service

actor = state.require_page("scan.run")
lang = state.lang()
st.title(t("rv_scans", lang))
st.caption(t("rv_no_content", lang))


def _when(at) -> str:
    return dates.moment(at, lang)


def _status(value: str) -> str:
    return label("rv_st_", value, lang)


def _run(box, task: str, start) -> None:
    """Run a scan with a progress bar; keep its id in the session to show its results."""
    bar = box.progress(0.0, text=t("rv_scan_progress", lang, done=0, total="…"))

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=t("rv_scan_progress", lang, done=done, total=total))

    with service_errors(box), state.context(actor, task) as ctx:
        report = start(ctx, progress)
        st.session_state["rv_scan_pick"] = report.scan_id  # show the results of this scan
        st.session_state["rv_scan_done"] = t("rv_scan_done", lang, id=report.scan_id)
        gen = st.session_state.get("rv_scan_gen", 0)
        st.session_state["rv_scan_gen"] = gen + 1  # empties the zip uploaders
        st.rerun()
    bar.empty()


gen = st.session_state.get("rv_scan_gen", 0)
if "rv_scan_done" in st.session_state:
    st.success(st.session_state.pop("rv_scan_done"))

st.subheader(t("rv_start_scan", lang))
folder_tab, zip_tab = st.tabs([t("rv_scan_folder_tab", lang), t("rv_scan_zip_tab", lang)])
with folder_tab:
    with state.context(actor, "scans page: scan folders") as ctx:
        roots = service.scan_folders(ctx)
    st.caption(t("rv_scan_roots", lang, roots=", ".join(f"`{r}`" for r in roots)))
    folder_box = st.container()
    with st.form("rv_scan_folder_form"):
        c1, c2 = st.columns([4, 1])
        path = c1.text_input(t("rv_scan_path", lang), key="rv_scan_path")
        workers = c2.number_input(t("rv_workers", lang), min_value=1, max_value=8, value=2, key="rv_scan_workers")
        go_folder = st.form_submit_button(t("rv_scan_submit", lang))
    if go_folder:
        if not path.strip():
            folder_box.error(t("rv_no_path", lang))
        else:
            _run(folder_box, "scans page: folder scan",
                 lambda ctx, progress: service.run_scan(ctx, path.strip(), workers=int(workers), progress=progress))
with zip_tab:
    zip_box = st.container()
    with st.form("rv_scan_zip_form"):
        upload = st.file_uploader(t("rv_scan_zip", lang), type=["zip"], key=f"rv_scan_zip_{gen}")
        go_zip = st.form_submit_button(t("rv_scan_submit", lang))
    if go_zip:
        if upload is None:
            zip_box.error(t("rv_no_zip", lang))
        else:
            _run(zip_box, "scans page: zip upload scan",
                 lambda ctx, progress: service.run_scan_upload(ctx, upload.name, upload.getvalue(),
                                                               progress=progress))

st.subheader(t("rv_past_scans", lang))
with state.context(actor, "scans page") as ctx:
    scans = service.list_scans(ctx)
if not scans:
    st.info(t("rv_no_scans", lang))
    st.stop()
times = [t("rv_started_at", lang), t("rv_finished_at", lang)]
st.dataframe(pd.DataFrame({
    t("rv_scan", lang): [s.id for s in scans], t("rv_source", lang): [s.source for s in scans],
    t("status", lang): [_status(s.status) for s in scans],
    t("rv_progress_col", lang): [f"{s.items_done}/{s.items_total}" for s in scans],
    t("rv_started_by", lang): [s.started_by for s in scans],
    times[0]: dates.times(s.started_at for s in scans),  # Seoul's time, sorting as times
    times[1]: dates.times(s.finished_at for s in scans)}),
    hide_index=True, key="rv_scans_table", column_config=dates.moment_columns(times, lang))

st.subheader(t("rv_report", lang))
by_id = {s.id: s for s in scans}
ids = list(by_id)
# The language is part of the key: a select box keeps the labels it was first drawn with.
choice_key = f"rv_scan_choice_{lang}"
if "rv_scan_pick" in st.session_state:
    st.session_state[choice_key] = st.session_state.pop("rv_scan_pick")
if st.session_state.get(choice_key) not in by_id:
    st.session_state[choice_key] = ids[0]  # the newest
chosen = st.selectbox(t("rv_choose_scan", lang), ids, key=choice_key,
                      format_func=lambda i: t("rv_scan_label", lang, id=i, status=_status(by_id[i].status),
                                              started=_when(by_id[i].started_at)))
scan = by_id[chosen]

report = None
with service_errors(), state.context(actor, "scans page: report") as ctx:
    report = service.scan_report(ctx, chosen)


def _match_text(m) -> str:
    how = t("rv_inliers", lang, n=m.inliers) if m.inliers is not None else t("rv_bits", lang, n=m.distance)
    return f"{m.case} · {m.algorithm} · {how}"


def _frames_text(m) -> str:
    if not m.frames:
        return ""
    return ", ".join(f"{f['time']:.1f}s" if f.get("time") is not None else f"#{f.get('frame')}"
                     for f in m.frames)


if report is not None:
    cols = st.columns(5)
    for col, key in zip(cols, ("items", "flagged", "clear", "error", "matches"), strict=True):
        col.metric(t("rv_total_" + key, lang), f"{report.totals[key]:,}")
if report is not None and report.items:
    st.dataframe(pd.DataFrame([{
        t("rv_path", lang): i.path, t("rv_item_status", lang): _status(i.status),
        t("rv_kind", lang): _status(i.media_kind) if i.media_kind else "",
        t("rv_matches", lang): "; ".join(_match_text(m) for m in i.matches),
        t("rv_frames", lang): "; ".join(filter(None, (_frames_text(m) for m in i.matches))),
        t("rv_error", lang): i.error or ""} for i in report.items]), hide_index=True, key="rv_items_table")

if scan.status in ("interrupted", "failed"):
    st.subheader(t("rv_resume", lang))
    resume_box = st.container()
    if scan.source.startswith("upload:"):
        st.caption(t("rv_resume_zip", lang, id=scan.id))
        with st.form("rv_resume_form"):
            again = st.file_uploader(t("rv_resume_file", lang), type=["zip"], key=f"rv_resume_zip_{gen}")
            resume = st.form_submit_button(t("rv_resume", lang))
        if resume:
            if again is None:
                resume_box.error(t("rv_no_zip", lang))
            else:
                _run(resume_box, "scans page: resume upload scan",
                     lambda ctx, progress: service.run_scan_upload(ctx, again.name, again.getvalue(),
                                                                   resume_scan_id=scan.id, progress=progress))
    elif (manifest := service.manifest_of(scan.source)) is not None:
        st.caption(t("rv_resume_folder", lang, id=scan.id, source=manifest))
        if st.button(t("rv_resume", lang), key="rv_resume_folder"):
            _run(resume_box, "scans page: resume manifest scan",
                 lambda ctx, progress: service.run_manifest_scan(ctx, manifest, resume_scan_id=scan.id,
                                                                 progress=progress))
    else:
        st.caption(t("rv_resume_folder", lang, id=scan.id, source=scan.source))
        if st.button(t("rv_resume", lang), key="rv_resume_folder"):
            _run(resume_box, "scans page: resume folder scan",
                 lambda ctx, progress: service.run_scan(ctx, scan.source, resume_scan_id=scan.id, progress=progress))
