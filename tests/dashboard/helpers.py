"""Helpers shared by the dashboard tests: acting accounts and what a page sent to the browser."""

from __future__ import annotations

from sqlalchemy import select

from db.context import Actor
from db.schema import Account


def actor(rt, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


def rendered(at) -> bytes:
    """Everything the page sent to the browser (texts, tables as Arrow, chart specs), as bytes."""
    out = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(out)
