"""Exports: every download of data leaving dscr, each a use case with its manifest."""

from __future__ import annotations

import hashlib

import pandas as pd

from db import access
from db.context import Context
from errors import ValidationError

# --- exports ---------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def sanitise_cell(value: object) -> object:
    """Neutralise spreadsheet formulas (CSV injection): a text cell starting with = + - @ gets a '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(ctx: Context, frame: pd.DataFrame, *, kind: str, purpose: str, action: str,
               filters: dict | None = None, suppression: dict | None = None) -> bytes:
    """Turn a use case's output into a CSV download, after recording who, why and what (a manifest)."""
    from db.schema import ExportManifest

    access.require(ctx, action)
    if len(purpose.strip()) < 5:
        raise ValidationError("exports.state_purpose_download_least",
                              "State the purpose of this download (at least 5 characters); it "
                              "is kept with the export record.")
    clean = frame.copy()
    for col in clean.columns:
        if clean[col].dtype == object:
            clean[col] = clean[col].map(sanitise_cell)
    data = clean.to_csv(index=False).encode("utf-8-sig")
    with ctx.transaction() as s:
        s.add(ExportManifest(account_id=ctx.actor.id, kind=kind, purpose=purpose.strip(),
                             filters=filters or {}, suppression=suppression, rows=len(clean),
                             sha256=hashlib.sha256(data).hexdigest()))
    return data


