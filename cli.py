"""The `dscr` command: one subcommand per use case, as thin as a dashboard page.

It is for operators who hold the database and the key files. It acts as the active account named
by --user or DSCR_USER, whose role must allow the action; the audit log attributes the action to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from collections.abc import Sequence

import vocab
from errors import ConfigurationError, DscrError


def _read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
    else:
        pw = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != pw:
            raise DscrError("cli.two_passwords_differ", "The two passwords differ.")
    return pw


def _read_reason(args: argparse.Namespace) -> str:
    """A reason from stdin or asked for: not an argument, so it stays out of the shell history."""
    if args.reason_stdin:
        return sys.stdin.read().strip()
    return input("Reason (kept encrypted for the access review): ").strip()


def _read_current_password(args: argparse.Namespace) -> str:
    """One's own current password: the first line of stdin with --password-stdin (the new one is
    the second), else asked for without echo."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("Current password: ")


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
            rt.keyring, rt.study_coder, rt.audit_chain.key  # noqa: B018 - creates the files when missing
        before = migrate.current_revision(rt.engine)
        migrate.upgrade(rt.engine, args.revision)
        after = migrate.current_revision(rt.engine)
        rt.check_key()
        if after is not None and after == migrate.head_revision(rt.engine):
            # Reasons of break-glass openings made before revision 0004 were plain text, which a
            # migration (holding no key) cannot encrypt: move them now, under the field key.
            from db import reasons

            with rt.context(SYSTEM, task="cli db upgrade: keep reasons encrypted") as ctx:
                moved = reasons.move_plain_break_glass_reasons(ctx)
            if moved:
                print(f"{moved} break-glass reason(s) moved into reason_texts, encrypted")
    else:
        before = migrate.current_revision(rt.engine)
        _guarded_downgrade(rt, args, before)
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


def _guarded_downgrade(rt, args: argparse.Namespace, before: str | None) -> None:
    """A downgrade drops tables and columns: an admin's act, confirmed, backed up first, audited."""
    import datetime as dt

    from sqlalchemy import func, inspect, select

    from db import access, audit, migrate, operations
    from db.schema import Account, Participant
    from errors import ValidationError

    with rt.context_for(args.user, task="cli db downgrade") as ctx:
        access.require(ctx, "schema.downgrade")
        if not args.yes:
            raise ValidationError(
                "cli.downgrade_unconfirmed",
                "A downgrade to {revision} removes what later revisions added. Add --yes to "
                "confirm; a backup is taken first.", revision=args.revision)
        has_data = inspect(ctx.session.connection()).has_table("participants") and bool(
            ctx.session.scalar(select(func.count()).select_from(Participant))
            or ctx.session.scalar(select(func.count()).select_from(Account)) > 1)
        if args.revision == "base" and has_data and not args.force:
            raise ValidationError(
                "cli.downgrade_base_with_data",
                "`downgrade base` would delete every table of a database that holds data. "
                "Restore a backup into a new database instead, or add --force.")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        target = rt.settings.data_dir / "backups" / f"before-downgrade-{before}-to-{args.revision}-{stamp}.backup"
        report = operations.backup(ctx, target)
        with ctx.transaction() as s:
            audit.record(s, "schema_downgrade_started", detail=(
                f"{before} -> {args.revision}; backup {report.path.name}"))
        print(f"backup taken first: {report.path}")
    migrate.downgrade(rt.engine, args.revision)


def cmd_users(args: argparse.Namespace) -> int:
    from accounts import service as accounts_service
    from db.context import SYSTEM

    rt = _runtime()
    if args.users_command == "add":
        password = _read_password(args)
        if accounts_service.count_accounts(rt) == 0:
            # The first account of a new installation has nobody to act as: the system makes it.
            with rt.context(SYSTEM, task="bootstrap first account") as ctx:
                acc_id = accounts_service.add_account(ctx, username=args.username, role=args.role,
                                             password=password, display_name=args.display_name or "",
                                             supervisor=args.supervisor)
        else:
            with rt.context_for(args.user, task="cli users add") as ctx:
                acc_id = accounts_service.add_account(ctx, username=args.username, role=args.role,
                                             password=password, display_name=args.display_name or "",
                                             supervisor=args.supervisor)
        print(f"account {args.username} ({args.role}) created with id {acc_id}")
    elif args.users_command == "list":
        with rt.context_for(args.user, task="cli users list") as ctx:
            rows = accounts_service.list_accounts(ctx)
        print(f"{'username':<20} {'role':<10} {'active':<6} locked")
        for r in rows:
            print(f"{r.username:<20} {r.role:<10} {'yes' if r.active else 'no':<6} {'yes' if r.locked else 'no'}")
    elif args.users_command == "disable":
        with rt.context_for(args.user, task="cli users disable") as ctx:
            accounts_service.disable_account(ctx, args.username)
        print(f"account {args.username} disabled; its open sessions were ended")
    elif args.users_command == "team":
        with rt.context_for(args.user, task="cli users team") as ctx:
            accounts_service.set_supervisor(ctx, args.username, args.supervisor)
        print(f"{args.username} is now in the team of {args.supervisor}" if args.supervisor
              else f"{args.username} is now in no supervisor's team")
    elif args.users_command == "passwd":
        # Changing one's own password needs the current one; an admin resetting another's does not.
        current = _read_current_password(args) if args.username == args.user else None
        password = _read_password(args, "New password: ")
        with rt.context_for(args.user, task="cli users passwd") as ctx:
            accounts_service.set_password(ctx, args.username, password, current_password=current)
        print(f"password of {args.username} changed; its open sessions were ended")
    elif args.users_command == "role":
        with rt.context_for(args.user, task="cli users role") as ctx:
            accounts_service.change_role(ctx, args.username, args.role)
        print(f"{args.username} is now {args.role}; its open sessions were ended")
    elif args.users_command == "reset":
        with rt.context_for(args.user, task="cli users reset") as ctx:
            one_time = accounts_service.reset_password(ctx, args.username)
        # Shown once, on this terminal only: the user must change it at the next log-in.
        print(f"one-time password for {args.username} (they must change it at log-in): {one_time}")
    elif args.users_command == "unlock":
        with rt.context_for(args.user, task="cli users unlock") as ctx:
            was_locked = accounts_service.unlock_account(ctx, args.username)
        print(f"{args.username} unlocked" if was_locked else f"{args.username} was not locked")
    return 0


def cmd_participants(args: argparse.Namespace) -> int:
    from casework import service as casework

    rt = _runtime()
    if args.participants_command == "transfer":
        try:
            on = dt.date.fromisoformat(args.on) if args.on else None
        except ValueError:
            raise DscrError("cli.transfer_day", "--on {day!r} is not a date (YYYY-MM-DD).",
                            day=args.on) from None
        reason = _read_reason(args)
        with rt.context_for(args.user, task="cli participants transfer") as ctx:
            on = on or ctx.today  # Seoul's today
            casework.transfer_participant(ctx, args.study_code, to_counselor=args.to, on=on,
                                          reason=reason)
        print(f"{args.study_code} moves to {args.to} from {on.isoformat()}; the reason is kept, "
              "encrypted, for the access review")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from demo import loader

    rt = _runtime()
    if not loader.database_is_empty(rt):
        if args.if_empty:
            print("demo data: the database holds data already; nothing loaded")
            return 0
        raise DscrError(
            "cli.database_not_empty_demo",
            "The database is not empty: demo data is loaded only into a new database. Use a new "
            "DSCR_DATA_DIR (or DSCR_DATABASE_URL), or keep the data that is there."
        )
    summary = loader.load(rt, participants=args.participants, seed=args.seed,
                          prevention_classes=args.prevention_classes)
    print(f"demo data loaded (seed {args.seed}): {summary.participants} participants, "
          f"{summary.sessions} sessions, {summary.assessments} assessments, "
          f"{summary.follow_ups} follow-ups, {summary.events} recidivism events, "
          f"{summary.hash_entries} registry hashes, "
          f"{summary.prevention_deliveries} prevention-education classes")
    lines = [f"{a.username:<14} {a.role:<10} {a.password}" for a in summary.accounts]
    if args.accounts_file:
        from db.files import write_private

        # O_TRUNC on an existing 0644 file would keep its mode: a new 0600 file replaces it.
        write_private(args.accounts_file, "# demo accounts (synthetic data only): username role "
                      "password\n" + "\n".join(lines) + "\n")
        print(f"demo accounts written to {args.accounts_file} (mode 600)")
    else:
        print("demo accounts (username role password):")
        print("\n".join("  " + ln for ln in lines))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from accounts import service as accounts_service

    rt = _runtime()
    with rt.context_for(args.user, task="cli audit " + args.audit_command) as ctx:
        if args.audit_command == "verify":
            report = accounts_service.verify_audit(ctx)
            print(report.message())
            return 0 if report.ok else 1
        rows = accounts_service.audit_entries(ctx, limit=args.limit, actor=args.actor, action=args.action)
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
    down = dbs.add_parser("downgrade", help="migrate back to a revision (admin; backed up first)")
    down.add_argument("revision")
    down.add_argument("--yes", action="store_true", help="confirm: later revisions' data is lost")
    down.add_argument("--force", action="store_true",
                      help="allow `downgrade base` on a database that holds data")
    dbs.add_parser("current", help="print the schema revision")
    db.set_defaults(func=cmd_db)

    users = sub.add_parser("users", help="accounts")
    us = users.add_subparsers(dest="users_command", required=True)
    add = us.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=list(vocab.ROLES))
    add.add_argument("--display-name")
    add.add_argument("--supervisor", help="a counselor's team lead (a supervisor's username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    us.add_parser("list", help="list accounts")
    dis = us.add_parser("disable", help="disable an account and end its sessions")
    dis.add_argument("username")
    team = us.add_parser("team", help="put a counselor in a supervisor's team (or none)")
    team.add_argument("username")
    team.add_argument("--supervisor", help="the supervisor's username; leave out to clear it")
    pw = us.add_parser("passwd", help="set a password and end the account's sessions (for your "
                       "own account, give the current password first)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true",
                    help="read the new password from stdin; for your own account the first line "
                         "is the current password and the second the new one")
    role = us.add_parser("role", help="change an account's role (its open sessions end)")
    role.add_argument("username")
    role.add_argument("role", choices=list(vocab.ROLES))
    reset = us.add_parser("reset", help="set a one-time password the user must change at log-in")
    reset.add_argument("username")
    unlock = us.add_parser("unlock", help="unlock an account locked by failed log-ins")
    unlock.add_argument("username")
    users.set_defaults(func=cmd_users)

    parts = sub.add_parser("participants", help="the caseload: transfers between counselors")
    ps = parts.add_subparsers(dest="participants_command", required=True)
    tr = ps.add_parser("transfer", help="move a participant to another counselor from a day")
    tr.add_argument("study_code")
    tr.add_argument("--to", required=True, help="the counselor's username")
    tr.add_argument("--on", help="the first day with the new counselor (YYYY-MM-DD; default today)")
    tr.add_argument("--reason-stdin", action="store_true",
                    help="read the reason from stdin (else it is asked for); kept encrypted")
    parts.set_defaults(func=cmd_participants)

    demo = sub.add_parser("demo-data", help="load a synthetic programme into a new database")
    demo.add_argument("--participants", type=int, default=300)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--prevention-classes", type=int, default=12,
                      help="prevention-education classes a year over three years (the city's "
                           "real size is about 100)")
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
    add_prevention_commands(sub)
    add_models_commands(sub)
    add_detection_commands(sub)
    add_operations_commands(sub)
    add_partner_commands(sub)
    return p


# --- the matrix and programme outcomes (assessment/service.py, matrix/service.py) -------------

def add_matrix_commands(sub) -> None:
    """`dscr outcomes ...`"""
    out = sub.add_parser("outcomes", help="the committee's programme outcomes table (suppressed)")
    out.add_argument("--by", choices=["cohort", "programme", "age_band", "offence_type"],
                     help="group the table (with a Total); default: the whole programme")
    out.add_argument("--format", choices=["csv", "json"], default="csv")
    out.add_argument("--purpose", required=True,
                     help="why the table leaves dscr (recorded with the export, like every download)")
    out.add_argument("--output", help="write to this file (mode 600) instead of standard output")
    out.set_defaults(func=cmd_outcomes)


def _hand_out(export, path: str | None) -> None:
    """An export's bytes to a file (whole, mode 600) or to standard output."""
    if path:
        from exports.service import write_file

        write_file(export, path)
        print(f"{export.rows} rows written to {path} (sha256 {export.sha256}, "
              f"export record {export.manifest_id})")
    else:
        text = export.data.decode("utf-8-sig")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_outcomes(args: argparse.Namespace) -> int:
    from exports import service as exports

    rt = _runtime()
    with rt.context_for(args.user, task="cli outcomes") as ctx:
        export = exports.outcomes_table(ctx, by=args.by, purpose=args.purpose, fmt=args.format)
    _hand_out(export, args.output)
    return 0


def add_prevention_commands(sub) -> None:
    """`dscr prevention effects ...`"""
    prev = sub.add_parser("prevention", help="prevention education (the committee's tables)")
    psub = prev.add_subparsers(dest="prevention_command", required=True)
    eff = psub.add_parser("effects", help="pre -> post change by audience with 95%% CIs (suppressed)")
    eff.add_argument("--by", choices=["audience", "format", "audience_format", "programme"],
                     default="audience")
    eff.add_argument("--format", choices=["csv", "json"], default="csv")
    eff.add_argument("--purpose", required=True,
                     help="why the table leaves dscr (recorded with the export, like every download)")
    eff.add_argument("--output", help="write to this file (mode 600) instead of standard output")
    eff.set_defaults(func=cmd_prevention_effects)


def cmd_prevention_effects(args: argparse.Namespace) -> int:
    from exports import service as exports

    rt = _runtime()
    with rt.context_for(args.user, task="cli prevention effects") as ctx:
        export = exports.prevention_effects_table(ctx, by=args.by, purpose=args.purpose,
                                                  fmt=args.format)
    _hand_out(export, args.output)
    return 0


# --- recidivism and risk models (models/service.py) ------------------------------------------

def add_models_commands(sub) -> None:
    """`dscr models ...`, `dscr recidivism ...`"""
    models = sub.add_parser("models", help="recidivism risk models: fit, list, read their cards")
    ms = models.add_subparsers(dest="models_command", required=True)
    fit = ms.add_parser("fit", help="fit, validate and store a risk model with its card")
    fit.add_argument("--horizon", type=int, default=730, help="days (default 730)")
    fit.add_argument("--model", default="logistic", help="logistic (default) or gradient_boosting")
    fit.add_argument("--features",
                     help="comma-separated analysis-frame columns (default: baseline features)")
    fit.add_argument("--seed", type=int, default=0, help="random state of validation and model")
    fit.add_argument("--as-of", type=_date, help="use the data recorded up to this date")
    fit.add_argument("--repeats", type=int, default=10, help="cross-validation repeats")
    fit.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the CIs")
    fit.add_argument("--json", dest="json_path", help="write the model card there")
    fit.add_argument("--landmark", default="conclusion", choices=["planning", "conclusion"],
                     help="when the model predicts: planning (intake facts and planning scores) "
                          "or conclusion (default; completion and change known)")
    ms.add_parser("list", help="list the stored models, newest first")
    approve = ms.add_parser("approve", help="approve a draft model for counselors (committee, "
                                            "admin; never its fitter), after reading its card")
    approve.add_argument("model_id", type=int)
    approve.add_argument("--reason", required=True, help="why (about the model, no personal details)")
    approve.add_argument("--ack", action="append", default=[], metavar="KEY",
                         help="acknowledge one warning of the card by its key (`dscr models "
                              "warnings ID` lists them); give one --ack per warning")
    warnings = ms.add_parser("warnings", help="list a model's warnings with the keys to acknowledge")
    warnings.add_argument("model_id", type=int)
    withdraw = ms.add_parser("withdraw", help="withdraw a model from counselors, with a reason")
    withdraw.add_argument("model_id", type=int)
    withdraw.add_argument("--reason", required=True)
    card = ms.add_parser("card", help="print a stored model's card (JSON)")
    card.add_argument("model_id", type=int)
    card.add_argument("--json", dest="json_path", help="write it to a file instead")
    models.set_defaults(func=cmd_models)

    rec = sub.add_parser("recidivism", help="follow-up analyses on pseudonymised data")
    rs = rec.add_subparsers(dest="recidivism_command", required=True)
    km = rs.add_parser("km", help="Kaplan-Meier table of time to reoffending")
    km.add_argument("--by", help="programme, cohort, sex, completed, age_band, offence_group")
    km.add_argument("--format", choices=["csv", "json"], default="csv")
    km.add_argument("--as-of", type=_date, help="use the data recorded up to this date")
    km.add_argument("--purpose", required=True,
                    help="why the table leaves dscr (recorded with the export, like every download)")
    km.add_argument("--output", help="write to this file (mode 600) instead of standard output")
    cc = rs.add_parser("change-cox", help="matrix change and reoffending: time-varying Cox model, "
                                          "hazard ratio per reliable improvement with the PH check")
    cc.add_argument("--format", choices=["csv", "json"], default="csv")
    cc.add_argument("--as-of", type=_date, help="use the data recorded up to this date")
    cc.add_argument("--purpose", required=True,
                    help="why the table leaves dscr (recorded with the export, like every download)")
    cc.add_argument("--output", help="write to this file (mode 600) instead of standard output")
    rec.set_defaults(func=cmd_recidivism)


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _emit(text: str, path: str | None, what: str) -> None:
    if path:
        from db.files import write_private

        write_private(path, text)
        print(f"{what} written to {path} (mode 600)")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_models(args: argparse.Namespace) -> int:
    from models import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli models " + args.models_command) as ctx:
        if args.models_command == "fit":
            features = [f.strip() for f in args.features.split(",")] if args.features else None
            model_id = service.fit_risk_model(
                ctx, model=args.model, horizon=args.horizon, features=features,
                random_state=args.seed, as_of=args.as_of, n_repeats=args.repeats,
                n_bootstrap=args.bootstrap, landmark=args.landmark)
            card = service.get_card(ctx, model_id)
            auc = card.metrics.get("auc", {})
            print(f"model {model_id} ({card.model_name}, {card.horizon:g} days) fitted on "
                  f"{card.n} participants, {card.events} events; AUC {auc.get('estimate', 0):.3f} "
                  f"(95% CI {auc.get('ci_lower', 0):.3f}-{auc.get('ci_upper', 0):.3f}); "
                  f"data fingerprint {card.data_fingerprint[:12]}")
            for warning in card.warnings:
                print(f"warning: {warning}")
            print(f"model {model_id} is a draft: it reaches counselors once a committee member or "
                  "an admin approves it (`dscr models approve`)")
            if args.json_path:
                _emit(card.to_json(), args.json_path, "model card")
        elif args.models_command == "list":
            rows = service.list_models(ctx)
            print(f"{'id':>4} {'model':<18} {'horizon':>7} {'landmark':<10} {'status':<9} "
                  f"{'n':>5} {'events':>6} {'AUC (95% CI)':<20} {'fitted':<16} by")
            for r in rows:
                auc = ("-" if r.auc is None else
                       f"{r.auc:.3f} ({r.auc_ci_lower:.3f}-{r.auc_ci_upper:.3f})")
                approved = (f"; approved by {r.approved_by} {r.approved_at:%Y-%m-%d %H:%M}"
                            if r.approved_by else "")
                print(f"{r.id:>4} {r.name:<18} {r.horizon_days:>7} {r.landmark:<10} "
                      f"{r.status:<9} {r.n:>5} {r.events:>6} {auc:<20} "
                      f"{r.created_at:%Y-%m-%d %H:%M} {r.created_by}{approved}")
        elif args.models_command == "warnings":
            from models.approval import warning_keys

            card = service.get_card(ctx, args.model_id)
            for key, warning in zip(warning_keys(card.warnings), card.warnings, strict=True):
                print(f"{key}\t{warning}")
        elif args.models_command == "approve":
            info = service.approve_model(ctx, model_id=args.model_id, reason=args.reason,
                                         acknowledged=args.ack)
            print(f"model {info.id} approved by {info.approved_by} at "
                  f"{info.approved_at:%Y-%m-%d %H:%M} UTC ({info.landmark} landmark)")
        elif args.models_command == "withdraw":
            info = service.withdraw_model(ctx, model_id=args.model_id, reason=args.reason)
            print(f"model {info.id} withdrawn by {info.withdrawn_by} at "
                  f"{info.withdrawn_at:%Y-%m-%d %H:%M} UTC")
        else:
            card = service.get_card(ctx, args.model_id)
            _emit(card.to_json(), args.json_path, "model card")
    return 0


def cmd_recidivism(args: argparse.Namespace) -> int:
    from exports import service as exports

    rt = _runtime()
    with rt.context_for(args.user, task="cli recidivism " + args.recidivism_command) as ctx:
        if args.recidivism_command == "change-cox":
            export = exports.change_cox_table(ctx, as_of=args.as_of, purpose=args.purpose,
                                              fmt=args.format)
        else:
            export = exports.km_table(ctx, by=args.by, as_of=args.as_of, purpose=args.purpose,
                                      fmt=args.format)
    _hand_out(export, args.output)
    return 0


# --- the hash registry, scans and review (detection/service.py) ------------------------------

def add_detection_commands(sub) -> None:
    """`dscr registry ...`, `dscr scan ...`, `dscr flags ...`, `dscr takedowns ...`"""
    reg = sub.add_parser("registry", help="the hash registry of past cases (hashes, never content)")
    regs = reg.add_subparsers(dest="registry_command", required=True)
    add = regs.add_parser("add", help="hash images and videos (files, folders, zips) under a case")
    add.add_argument("--case", required=True, dest="case_ref", help="the case reference")
    add.add_argument("--new-case", action="store_true",
                     help="register the case reference if dscr does not hold it yet")
    add.add_argument("--workers", type=int, default=2, help="hashing processes (default 2)")
    add.add_argument("paths", nargs="+", metavar="PATH")
    imp = regs.add_parser("import", help="read a CSV hash list (algorithm,hash,case)")
    imp.add_argument("file")
    imp.add_argument("--new-cases", action="store_true",
                     help="register case references dscr does not hold yet")
    exp = regs.add_parser("export", help="write the registry as a CSV hash list")
    exp.add_argument("file")
    exp.add_argument("--purpose", required=True,
                     help="why the list leaves dscr (recorded with the export)")
    regs.add_parser("summary", help="entries by case and algorithm")
    reg.set_defaults(func=cmd_registry)

    scan = sub.add_parser("scan", help="scan a folder, zip or crawl manifest for re-uploads of "
                                       "registry content")
    scan.add_argument("path", help="a folder, a zip or a file (with --manifest: a crawl manifest)")
    scan.add_argument("--manifest", action="store_true",
                      help="PATH is a crawl manifest (CSV: uri,platform,page_url,first_seen)")
    scan.add_argument("--json", required=True, metavar="REPORT", help="where to write the report")
    scan.add_argument("--resume", type=int, metavar="SCAN_ID", help="resume an interrupted scan")
    scan.add_argument("--workers", type=int, default=2, help="hashing processes (default 2)")
    scan.add_argument("--cluster", metavar="tcp://HOST:8786",
                      help="hash on the Dask cluster of this scheduler (default "
                           "DSCR_DASK_SCHEDULER; without either, local processes)")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    scan.set_defaults(func=cmd_scan)

    flags = sub.add_parser("flags", help="flags raised by scans, for review")
    fls = flags.add_subparsers(dest="flags_command", required=True)
    fl = fls.add_parser("list", help="pending flags (--all: every flag)")
    fl.add_argument("--all", action="store_true")
    rv = fls.add_parser("review", help="confirm or reject a flag with a reason")
    rv.add_argument("flag_id", type=int, metavar="ID")
    decision = rv.add_mutually_exclusive_group(required=True)
    decision.add_argument("--confirm", action="store_const", const="confirm", dest="decision")
    decision.add_argument("--reject", action="store_const", const="reject", dest="decision")
    rv.add_argument("--reason", required=True)
    rv.add_argument("--version", type=int,
                    help="the version `flags list` showed (default: the current one)")
    flags.set_defaults(func=cmd_flags)

    td = sub.add_parser("takedowns", help="takedown requests opened by confirmed flags")
    tds = td.add_subparsers(dest="takedowns_command", required=True)
    tds.add_parser("list", help="all takedown requests, newest first")
    tu = tds.add_parser("update", help="record what the platform did")
    tu.add_argument("takedown_id", type=int, metavar="ID")
    tu.add_argument("--status", required=True, choices=["requested", "removed", "refused",
                                                        "reappeared"])
    tu.add_argument("--platform")
    tu.add_argument("--note")
    tu.add_argument("--version", type=int, help="the version `takedowns list` showed")
    td.set_defaults(func=cmd_takedowns)


def _progress_bar(enabled: bool):
    if not enabled:
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end,
              file=sys.stderr, flush=True)

    return show


def cmd_registry(args: argparse.Namespace) -> int:
    from detection import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli registry " + args.registry_command) as ctx:
        if args.registry_command == "add":
            r = service.add_to_registry(ctx, case_ref=args.case_ref, paths=args.paths,
                                        new_case=args.new_case, workers=args.workers,
                                        progress=_progress_bar(sys.stderr.isatty()))
            print(f"case {r.case_ref}: {r.files_hashed} files hashed, {r.entries_added} hashes "
                  f"added, {r.entries_merged} already held, {r.region_signatures_added} region "
                  "signatures added")
            for p in r.problems:
                print(f"skipped {p.path}: {p.reason}")
        elif args.registry_command == "import":
            r = service.import_hash_list(ctx, args.file, new_cases=args.new_cases)
            print(f"{r.rows} rows read: {r.entries_added} hashes added, {r.entries_merged} "
                  "already held" + (f"; new cases {', '.join(r.cases_created)}"
                                    if r.cases_created else ""))
        elif args.registry_command == "export":
            from exports import service as exports

            export = exports.hash_list(ctx, purpose=args.purpose, delivery="file")
            exports.write_file(export, args.file)
            print(f"{export.rows} hashes written to {args.file} (sha256 {export.sha256})")
        else:
            summary = service.registry_summary(ctx)
            print(f"{'case':<32} {'algorithm':<14} entries")
            for row in summary.itertuples():
                print(f"{row.case:<32} {row.algorithm:<14} {row.entries}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from detection import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli scan") as ctx:
        try:
            scan = service.run_manifest_scan if args.manifest else service.run_scan
            report = scan(
                ctx, args.path, workers=args.workers, cluster=args.cluster,
                resume_scan_id=args.resume,
                progress=_progress_bar(not args.no_progress and sys.stderr.isatty()))
        except KeyboardInterrupt:
            print("\nscan interrupted; resume it with `dscr scan PATH --json REPORT --resume "
                  "SCAN_ID` (the id is in `dscr flags list` or the scans table)", file=sys.stderr)
            raise
    from db.files import write_private

    # The report names files and cases: readable by its owner only, like every export.
    out = write_private(Path(args.json), json.dumps(report.to_dict(), indent=2,
                                                    ensure_ascii=False) + "\n")
    t = report.totals
    print(f"scan {report.scan_id}: {t['items']} files, {t['flagged']} flagged, {t['clear']} "
          f"clear, {t['error']} errors; report written to {out}")
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    from detection import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli flags " + args.flags_command) as ctx:
        if args.flags_command == "list":
            for f in service.review_queue(ctx, status=None if args.all else "pending"):
                print(json.dumps({"id": f.id, "scan": f.scan_id, "path": f.item_path,
                                  "case": f.case, "registry_id": f.registry_id,
                                  "algorithm": f.algorithm, "distance": f.distance,
                                  "frames": f.frames, "status": f.status, "version": f.version,
                                  "platform": f.source_platform, "page_url": f.source_url},
                                 ensure_ascii=False))
            return 0
        version = args.version
        if version is None:
            current = {f.id: f for f in service.review_queue(ctx, status=None)}
            if args.flag_id not in current:
                raise DscrError("cli.no_flag_dscr_flags",
                                "No flag {args_flag_id}; `dscr flags list --all` shows them.",
                                args_flag_id=args.flag_id)
            version = current[args.flag_id].version
        r = service.review_flag(ctx, args.flag_id, decision=args.decision, reason=args.reason,
                                expected_version=version)
    extra = ""
    if r.takedown_id is not None:
        extra += f"; takedown request {r.takedown_id} opened"
    if r.event_proposal_id is not None:
        extra += f"; follow-up event {r.event_proposal_id} proposed to the analysts"
    print(f"flag {r.flag_id} {r.status}{extra}")
    return 0


def cmd_takedowns(args: argparse.Namespace) -> int:
    from detection import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli takedowns " + args.takedowns_command) as ctx:
        if args.takedowns_command == "list":
            for t in service.takedowns(ctx):
                print(json.dumps({"id": t.id, "flag": t.flag_id, "status": t.status,
                                  "platform": t.platform, "page_url": t.page_url,
                                  "requested_at": t.requested_at.isoformat(),
                                  "updated_at": t.updated_at.isoformat(), "version": t.version}))
            return 0
        version = args.version
        if version is None:
            current = {t.id: t for t in service.takedowns(ctx)}
            if args.takedown_id not in current:
                raise DscrError("cli.no_takedown_request",
                                "No takedown request {args_takedown_id}.",
                                args_takedown_id=args.takedown_id)
            version = current[args.takedown_id].version
        t = service.update_takedown(ctx, args.takedown_id, status=args.status,
                                    expected_version=version, note=args.note,
                                    platform=args.platform)
    print(f"takedown {t.id} is now {t.status}")
    return 0


# --- operations: backup, restore, retention, keys (db/) -------------------------------------

def add_operations_commands(sub) -> None:
    """`dscr backup`, `dscr restore`, `dscr retention ...`, `dscr keys ...`, `dscr disclosures ...`"""
    bk = sub.add_parser("backup", help="copy the database to a new file (the key files are NOT "
                        "included: copy them separately)")
    bk.add_argument("path")
    bk.set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="replace the database with a backup of the same schema "
                        "revision (needs the key file the backup was made with)")
    rs.add_argument("path")
    rs.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rs.set_defaults(func=cmd_restore)

    ret = sub.add_parser("retention", help="erase identifying fields after the retention period "
                         "(DSCR_RETENTION_YEARS after follow-up ends, 5 by default)")
    rets = ret.add_subparsers(dest="retention_command", required=True)
    pg = rets.add_parser("purge", help="erase names, contacts and notes; keep the research record")
    pg.add_argument("--dry-run", action="store_true", help="only list who would be erased")
    pg.add_argument("--years", type=int, help="the retention period (default: $DSCR_RETENTION_YEARS or 5)")
    ret.set_defaults(func=cmd_retention)

    keys = sub.add_parser("keys", help="the field encryption keys")
    ks = keys.add_subparsers(dest="keys_command", required=True)
    rot = ks.add_parser("rotate", help="add a new key and re-encrypt every encrypted field under it")
    rot.add_argument("--retire-old", action="store_true",
                     help="afterwards drop the old keys, when no field needs them any more")
    rot.add_argument("--resume", action="store_true",
                     help="finish an interrupted rotation with the keys already in the file")
    rot.add_argument("--batch-size", type=int, default=200)
    keys.set_defaults(func=cmd_keys)

    dis = sub.add_parser("disclosures", help="the register of releases outside the programme")
    diss = dis.add_subparsers(dest="disclosures_command", required=True)
    drec = diss.add_parser("record", help="record a release (Juvenile Act Art. 70 bases only)")
    drec.add_argument("--participant-id", type=int, required=True)
    drec.add_argument("--recipient", required=True)
    drec.add_argument("--legal-basis", required=True)
    drec.add_argument("--purpose", required=True)
    drec.add_argument("--released-on", required=True, help="YYYY-MM-DD")
    diss.add_parser("list", help="list every recorded release (JSON lines)")
    dis.set_defaults(func=cmd_disclosures)


def cmd_backup(args: argparse.Namespace) -> int:
    from db import operations

    rt = _runtime()
    with rt.context_for(args.user, task="cli backup") as ctx:
        report = operations.backup(ctx, args.path)
    print(f"backup written to {report.path} ({report.backend}, schema revision {report.revision}, "
          f"{report.bytes} bytes, mode 600)")
    print(report.note)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from db import operations

    if not args.yes:
        answer = input(f"Replace the whole database with {args.path}? Type 'restore' to go on: ")
        if answer.strip() != "restore":
            print("nothing restored")
            return 1
    rt = _runtime()
    with rt.context_for(args.user, task="cli restore") as ctx:
        report = operations.restore(ctx, args.path)
    rows = sum(n for n, _ in report.fingerprints.values())
    print(f"restored {report.path} ({report.backend}, schema revision {report.revision}): "
          f"{len(report.fingerprints)} tables, {rows} rows")
    print(report.note)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from db import operations

    rt = _runtime()
    with rt.context_for(args.user, task="cli retention purge") as ctx:
        report = operations.purge_expired(ctx, dry_run=args.dry_run, years=args.years)
    verb = "would be erased" if report.dry_run else "erased"
    print(f"retention {report.years} years: follow-up ended on or before {report.cutoff}; "
          f"{len(report.study_codes)} participants' identifying fields {verb}"
          + ("" if report.dry_run else f" ({report.fields_erased} fields)"))
    for code in report.study_codes:
        print(f"  {code}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from db import operations

    rt = _runtime()
    with rt.context_for(args.user, task="cli keys rotate") as ctx:
        if args.resume:
            report = operations.resume_rotation(ctx, batch_size=args.batch_size)
        else:
            report = operations.rotate_keys(ctx, batch_size=args.batch_size)
        print(f"new key {report.new_key_id} first of {report.keys_in_file} in {rt.settings.key_file}; "
              f"{report.fields_reencrypted} fields in {report.rows_updated} records re-encrypted")
        if args.retire_old:
            n = operations.retire_old_keys(ctx)
            print(f"{n} old key(s) dropped from the key file. Backups made before this rotation "
                  "need the old key file: keep it with them, or destroy them together.")
    print(operations.KEY_FILES_NOTE.replace("this backup", "any backup"))
    return 0


def cmd_disclosures(args: argparse.Namespace) -> int:
    import datetime as dt

    from casework import service as casework

    rt = _runtime()
    with rt.context_for(args.user, task="cli disclosures " + args.disclosures_command) as ctx:
        if args.disclosures_command == "record":
            try:
                released = dt.date.fromisoformat(args.released_on)
            except ValueError:
                raise DscrError("cli.released_yyyy_mm_dd",
                                "--released-on must be YYYY-MM-DD, got {args_released_on!r}.",
                                args_released_on=args.released_on) from None
            did = casework.record_disclosure(
                ctx, participant_id=args.participant_id, recipient=args.recipient,
                legal_basis=args.legal_basis, purpose=args.purpose, released_on=released)
            print(f"release recorded with id {did}")
            return 0
        rows = casework.list_disclosures(ctx)
    for r in rows:
        print(json.dumps({"id": r.id, "study_code": r.study_code, "recipient": r.recipient,
                          "legal_basis": r.legal_basis, "purpose": r.purpose,
                          "released_on": r.released_on.isoformat(), "recorded_by": r.recorded_by,
                          "recorded_at": r.recorded_at.isoformat()}, ensure_ascii=False))
    return 0


# --- the partners' matching API (partners/service.py, api/) ----------------------------------

def add_partner_commands(sub) -> None:
    """`dscr partner issue|list|revoke` (the admin) and `dscr api` (the matching API server)."""
    from vocab import PARTNER_SCOPES

    pt = sub.add_parser("partner", help="the partners' API tokens (admin)")
    pts = pt.add_subparsers(dest="partner_command", required=True)
    iss = pts.add_parser("issue", help="issue a token to a partner; the secret is printed once")
    iss.add_argument("partner", help="the partner's name, e.g. hotline-seoul")
    iss.add_argument("--scope", action="append", choices=PARTNER_SCOPES, dest="scopes",
                     help="what the token may ask (repeat for several; default match.hashes)")
    iss.add_argument("--days", type=int, default=90, help="days until it expires (1..366)")
    pts.add_parser("list", help="every token issued, newest first (JSON lines; no secrets)")
    rev = pts.add_parser("revoke", help="revoke a token at once, in every running server")
    rev.add_argument("token_id", type=int)
    pt.set_defaults(func=cmd_partner)

    api = sub.add_parser("api", help="start the partners' matching API (HTTP; OpenAPI docs at "
                         "/docs)")
    api.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: put TLS in front of it)")
    api.add_argument("--port", type=int, default=8800)
    api.add_argument("--workers", type=int, default=1,
                     help="server processes (each holds the whole index in memory)")
    api.set_defaults(func=cmd_api)


def cmd_partner(args: argparse.Namespace) -> int:
    from partners import service

    rt = _runtime()
    with rt.context_for(args.user, task="cli partner " + args.partner_command) as ctx:
        if args.partner_command == "issue":
            t = service.issue_token(ctx, partner=args.partner,
                                    scopes=args.scopes or ["match.hashes"], valid_days=args.days)
            print(f"token {t.id} for {t.partner} ({' '.join(t.scopes)}), expires "
                  f"{t.expires_at:%Y-%m-%d %H:%M} UTC. The secret, shown only now; give it to the "
                  "partner over a channel you trust:", file=sys.stderr)
            print(t.secret)
            return 0
        if args.partner_command == "revoke":
            t = service.revoke_token(ctx, token_id=args.token_id)
            print(f"token {t.id} of {t.partner} revoked at {t.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
            return 0
        from db.schema import utcnow

        now = utcnow()
        for t in service.list_tokens(ctx):
            print(json.dumps({"id": t.id, "partner": t.partner, "scopes": list(t.scopes),
                              "status": t.status(now), "issued_by": t.issued_by,
                              "issued_at": t.issued_at.isoformat(),
                              "expires_at": t.expires_at.isoformat(),
                              "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}))
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    _runtime().dispose()  # refuse a missing schema or a wrong key here, with one line
    if args.workers < 1:
        raise DscrError("cli.workers_positive", "--workers must be at least 1, got {workers}.",
                        workers=args.workers)
    print(f"dscr matching API on http://{args.host}:{args.port} (docs at /docs)", file=sys.stderr)
    uvicorn.run("api.app:from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, proxy_headers=False, server_header=False,
                log_level="warning")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from db.config import load_settings

    args = build_parser().parse_args(argv)
    args.user = args.user or load_settings().user
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
