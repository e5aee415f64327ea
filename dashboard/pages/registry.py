"""The detection reviewer's hash registry: counts by case and algorithm, add by upload, import, export."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import dates, state
from dashboard.components import download, service_errors
from dashboard.i18n import t
from db import access
from detection import service
from exports import service as exports


actor = state.require_page("registry.read")
lang = state.lang()
st.title(t("rv_registry", lang))
st.caption(t("rv_no_content", lang))

# A message from the last action survives the rerun that refreshes the counts.
for kind, message in st.session_state.pop("rv_registry_done", []):
    if kind == "table":
        st.dataframe(message, hide_index=True)
    else:
        getattr(st, kind)(message)

with state.context(actor, "registry page") as ctx:
    summary = service.registry_summary(ctx)

if summary.empty:
    st.info(t("rv_registry_empty", lang))
else:
    # How the registry grew, month by month and by how entries came (a chart per case would be
    # all bars of height one: most cases hold one item per algorithm).
    with state.context(actor, "registry page: growth") as ctx:
        growth = service.registry_growth(ctx)
    st.subheader(t("rv_growth_title", lang))
    fig = go.Figure([
        go.Bar(x=[dates.month(m.date(), lang) for m in part["month"]], y=part["entries"].tolist(),
               name=t("rv_source_" + source, lang),
               hovertemplate="%{x}<br>" + t("rv_source_" + source, lang) + ": %{y}<extra></extra>")
        for source, part in growth.groupby("source", sort=False)])
    fig.update_layout(barmode="stack", xaxis_title=t("rv_month", lang),
                      yaxis_title=t("rv_entries_axis", lang), legend_title_text=t("rv_growth_source", lang),
                      height=360, margin={"t": 30})
    fig.update_xaxes(type="category")
    st.plotly_chart(fig, key="rv_growth_chart")

    # The per-case counts: a registry of a thousand cases is narrowed by case reference.
    st.subheader(t("rv_counts", lang))
    needle = st.text_input(t("rv_case_filter", lang), key="rv_case_filter").strip().lower()
    if needle:
        summary = summary[summary["case"].str.lower().str.contains(needle, regex=False)]
    names = {"case": t("rv_case", lang), "algorithm": t("rv_algorithm", lang), "entries": t("rv_entries", lang)}
    st.dataframe(summary.rename(columns=names), hide_index=True, key="rv_counts_table")

if not access.is_allowed(actor.role, "registry.manage"):
    st.info(t("rv_cannot_manage", lang))
    st.stop()


def _uploader_key(name: str) -> str:
    # A new key after a successful action empties the uploader (and lets Streamlit drop the bytes);
    # after a failure the key stays, so the chosen files are kept.
    return f"{name}_{st.session_state.get(name + '_gen', 0)}"


def _done(name: str, messages: list, clear: tuple[str, ...] = ()) -> None:
    st.session_state[name + "_gen"] = st.session_state.get(name + "_gen", 0) + 1
    for key in clear:
        st.session_state.pop(key, None)  # saved: the next addition starts from an empty form
    st.session_state["rv_registry_done"] = messages
    st.rerun()


def _problems(problems) -> pd.DataFrame:
    return pd.DataFrame([{t("rv_path", lang): p.path, t("rv_reason_col", lang): p.reason} for p in problems])


st.subheader(t("rv_add_title", lang))
add_box = st.container()
with st.form("rv_add_form"):
    c1, c2 = st.columns([2, 3])
    case_ref = c1.text_input(t("rv_case", lang), max_chars=32, key="rv_add_case")
    new_case = c2.checkbox(t("rv_new_case", lang), key="rv_add_new_case")
    files = st.file_uploader(t("rv_add_files", lang), accept_multiple_files=True,
                             help=t("rv_add_files_help", lang), key=_uploader_key("rv_add_files"))
    add = st.form_submit_button(t("rv_add_submit", lang))
if add:
    if not files:
        add_box.error(t("rv_no_files", lang))
    else:
        bar = add_box.progress(0.0)

        def hashing(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=t("rv_add_hashing", lang, done=done, total=total))

        with service_errors(add_box), state.context(actor, "registry page: add by upload") as ctx:
            result = service.add_uploads_to_registry(
                ctx, case_ref=case_ref, new_case=new_case, progress=hashing,
                uploads=[(f.name, f.getvalue()) for f in files])
            messages = [("success", t("rv_add_done", lang, case=result.case_ref, files=result.files_hashed,
                                      added=result.entries_added, merged=result.entries_merged,
                                      regions=result.region_signatures_added))]
            if result.problems:
                messages += [("warning", t("rv_problems", lang)), ("table", _problems(result.problems))]
            _done("rv_add_files", messages, clear=("rv_add_case", "rv_add_new_case"))
        bar.empty()

st.subheader(t("rv_import_title", lang))
import_box = st.container()
with st.form("rv_import_form"):
    csv_file = st.file_uploader(t("rv_import_file", lang), type=["csv", "txt"],
                                key=_uploader_key("rv_import_file"))
    new_cases = st.checkbox(t("rv_import_new_cases", lang), key="rv_import_new_cases")
    go = st.form_submit_button(t("rv_import_submit", lang))
if go:
    if csv_file is None:
        import_box.error(t("rv_no_csv", lang))
    else:
        with service_errors(import_box), state.context(actor, "registry page: import") as ctx:
            imported = service.import_hash_list_bytes(ctx, csv_file.getvalue(), name=csv_file.name,
                                                      new_cases=new_cases)
            _done("rv_import_file", [("success", t("rv_import_done", lang, rows=imported.rows,
                                                   added=imported.entries_added,
                                                   merged=imported.entries_merged,
                                                   cases=len(imported.cases_created)))],
                  clear=("rv_import_new_cases",))

st.subheader(t("rv_export_title", lang))
st.caption(t("rv_export_note", lang))


def _hash_list(purpose: str) -> exports.Export:
    with state.context(actor, "registry page: export") as ctx:
        return exports.hash_list(ctx, purpose=purpose)


download("rv_download_hash_list", "rv_export", _hash_list)
