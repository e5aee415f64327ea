"""The `dscr` command: one subcommand per use case, as thin as a dashboard page.

It is for operators who hold the database and the key files. It acts as the active account named
by --user or DSCR_USER, whose role must allow the action; the audit log attributes the action to it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence

from errors import ConfigurationError, DscrError


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
    else:
        pw = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != pw:
            raise DscrError("The two passwords differ.")
    return pw


def _runtime(create_keys: bool = False, *, need_schema: bool = True):
    from db.context import Runtime, require_schema

    rt = Runtime(create_keys=create_keys)
    if need_schema:
        require_schema(rt)
        rt.check_key()
    return rt


def _holds_no_encrypted_data(rt) -> bool:
    from sqlalchemy import inspect, select

    from db.schema import Meta

    if not inspect(rt.engine).has_table("meta"):
        return True
    with rt.sessions() as s:
        return s.scalar(select(Meta.value).where(Meta.key == "key_check")) is None


def cmd_db(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from db import audit, migrate
    from db.context import SYSTEM, Context

    rt = _runtime(need_schema=False)
    if args.db_command == "current":
        print(migrate.current_revision(rt.engine) or "(empty database)")
        return 0
    if args.db_command == "upgrade":
        if _holds_no_encrypted_data(rt):
            # A new installation: create the key files (0600) beside the data, or use the given ones.
            rt = _runtime(create_keys=True, need_schema=False)
            rt.keyring, rt.study_coder  # noqa: B018 - creates the files when missing
        before = migrate.current_revision(rt.engine)
        migrate.upgrade(rt.engine, args.revision)
        after = migrate.current_revision(rt.engine)
        rt.check_key()
    else:
        before = migrate.current_revision(rt.engine)
        migrate.downgrade(rt.engine, args.revision)
        after = migrate.current_revision(rt.engine)
    if after is not None and inspect(rt.engine).has_table("audit_log"):
        with rt.sessions() as s:
            actor = SYSTEM
            if args.user:
                from sqlalchemy import select

                from db.context import Actor
                from db.schema import Account
                acc = s.scalars(select(Account).where(Account.username == args.user)).one_or_none()
                if acc is not None:
                    actor = Actor(acc.id, acc.username, acc.role)
            ctx = Context(s, actor, rt)
            with ctx.transaction():
                audit.record(s, "schema_" + args.db_command, detail=f"{before} -> {after}")
    print(f"database at revision {after} (was {before or 'empty'})")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from db import service
    from db.context import SYSTEM

    rt = _runtime()
    if args.users_command == "add":
        password = _read_password(args)
        if service.count_accounts(rt) == 0:
            # The first account of a new installation has nobody to act as: the system makes it.
            with rt.context(SYSTEM, task="bootstrap first account") as ctx:
                acc_id = service.add_account(ctx, username=args.username, role=args.role,
                                             password=password, display_name=args.display_name or "")
        else:
            with rt.context_for(args.user, task="cli users add") as ctx:
                acc_id = service.add_account(ctx, username=args.username, role=args.role,
                                             password=password, display_name=args.display_name or "")
        print(f"account {args.username} ({args.role}) created with id {acc_id}")
    elif args.users_command == "list":
        with rt.context_for(args.user, task="cli users list") as ctx:
            rows = service.list_accounts(ctx)
        print(f"{'username':<20} {'role':<10} {'active':<6} locked")
        for r in rows:
            print(f"{r.username:<20} {r.role:<10} {'yes' if r.active else 'no':<6} {'yes' if r.locked else 'no'}")
    elif args.users_command == "disable":
        with rt.context_for(args.user, task="cli users disable") as ctx:
            service.disable_account(ctx, args.username)
        print(f"account {args.username} disabled; its open sessions were ended")
    elif args.users_command == "passwd":
        password = _read_password(args)
        with rt.context_for(args.user, task="cli users passwd") as ctx:
            service.set_password(ctx, args.username, password)
        print(f"password of {args.username} changed; its open sessions were ended")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from db import demo

    rt = _runtime()
    if not demo.database_is_empty(rt):
        if args.if_empty:
            print("demo data: the database holds data already; nothing loaded")
            return 0
        raise DscrError(
            "The database is not empty: demo data is loaded only into a new database. Use a new "
            "DSCR_DATA_DIR (or DSCR_DATABASE_URL), or keep the data that is there."
        )
    summary = demo.load(rt, participants=args.participants, seed=args.seed)
    print(f"demo data loaded (seed {args.seed}): {summary.participants} participants, "
          f"{summary.sessions} sessions, {summary.assessments} assessments, "
          f"{summary.follow_ups} follow-ups, {summary.events} recidivism events, "
          f"{summary.hash_entries} registry hashes")
    lines = [f"{a.username:<14} {a.role:<10} {a.password}" for a in summary.accounts]
    if args.accounts_file:
        import os
        fd = os.open(args.accounts_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# demo accounts (synthetic data only): username role password\n")
            fh.write("\n".join(lines) + "\n")
        print(f"demo accounts written to {args.accounts_file} (mode 600)")
    else:
        print("demo accounts (username role password):")
        print("\n".join("  " + ln for ln in lines))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from db import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli audit " + args.audit_command) as ctx:
        if args.audit_command == "verify":
            report = service.verify_audit(ctx)
            print(report.message())
            return 0 if report.ok else 1
        rows = service.audit_entries(ctx, limit=args.limit, actor=args.actor, action=args.action)
    for r in rows:
        print(json.dumps({"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                          "table": r.table_name, "row": r.row_id, "subject": r.subject_participant_id,
                          "fields": r.fields, "detail": r.detail}, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dscr", description=__doc__.splitlines()[0])
    p.add_argument("--user", default=None,
                   help="the account to act as (default: $DSCR_USER)")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="create or change the schema (Alembic migrations)")
    dbs = db.add_subparsers(dest="db_command", required=True)
    up = dbs.add_parser("upgrade", help="migrate to a revision (default: the newest)")
    up.add_argument("revision", nargs="?", default="head")
    down = dbs.add_parser("downgrade", help="migrate back to a revision (e.g. base)")
    down.add_argument("revision")
    dbs.add_parser("current", help="print the schema revision")
    db.set_defaults(func=cmd_db)

    users = sub.add_parser("users", help="accounts")
    us = users.add_subparsers(dest="users_command", required=True)
    add = us.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True,
                     choices=["counselor", "committee", "analyst", "reviewer", "admin"])
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    us.add_parser("list", help="list accounts")
    dis = us.add_parser("disable", help="disable an account and end its sessions")
    dis.add_argument("username")
    pw = us.add_parser("passwd", help="set a password and end the account's sessions")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    users.set_defaults(func=cmd_users)

    demo = sub.add_parser("demo-data", help="load a synthetic programme into a new database")
    demo.add_argument("--participants", type=int, default=300)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing (and succeed) when the database holds data already")
    demo.add_argument("--accounts-file", help="write the demo accounts there (mode 600)")
    demo.set_defaults(func=cmd_demo_data)

    au = sub.add_parser("audit", help="the audit log")
    aus = au.add_subparsers(dest="audit_command", required=True)
    aus.add_parser("verify", help="check the hash chain; report the first broken link")
    log = aus.add_parser("log", help="print entries, newest first (JSON lines)")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--actor")
    log.add_argument("--action")
    au.set_defaults(func=cmd_audit)

    add_matrix_commands(sub)
    add_models_commands(sub)
    add_detection_commands(sub)
    add_operations_commands(sub)
    return p


# --- the matrix and programme outcomes (assessment/service.py, matrix/service.py) -------------

def add_matrix_commands(sub) -> None:
    """`dscr outcomes ...`"""


# --- recidivism and risk models (models/service.py) ------------------------------------------

def add_models_commands(sub) -> None:
    """`dscr models ...`, `dscr recidivism ...`"""


# --- the hash registry, scans and review (detection/service.py) ------------------------------

def add_detection_commands(sub) -> None:
    """`dscr registry ...`, `dscr scan ...`, `dscr flags ...`"""


# --- operations: backup, restore, retention, keys (db/) -------------------------------------

def add_operations_commands(sub) -> None:
    """`dscr backup`, `dscr restore`, `dscr retention ...`, `dscr keys ...`"""


def main(argv: Sequence[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    args.user = args.user or os.environ.get("DSCR_USER") or None
    try:
        return args.func(args)
    except DscrError as exc:
        kind = "configuration error" if isinstance(exc, ConfigurationError) else "error"
        print(f"dscr: {kind}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an operator gets one line, never a traceback with data in it
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            print(f"dscr: database error: {reason}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
