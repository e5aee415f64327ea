"""A throw-away PostgreSQL server from the machine's binaries, for the tests and the load benchmark."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from db.config import load_settings

PG_BINDIR = load_settings().pg_bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    base: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        full = [str(PG_BINDIR / cmd[0]), *cmd[1:]]
        if self.as_postgres:
            # The server refuses to run as root; CI runs as root, so run it as the postgres user.
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off -c max_connections=120")
        res = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"),
                        "-o", opts, "-w", "-t", "60", "start", check=False)
        if res.returncode != 0:
            log = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {res.stderr}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def version(self) -> str:
        return self._run("postgres", "--version").stdout.strip()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def start_postgres() -> PostgresServer:
    if not (PG_BINDIR / "initdb").exists():
        raise RuntimeError(f"PostgreSQL binaries not found in {PG_BINDIR} (set DSCR_PG_BINDIR)")
    base = Path(tempfile.mkdtemp(prefix="dscr-pg-"))
    as_postgres = os.geteuid() == 0
    if as_postgres:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    server = PostgresServer(base, free_port(), as_postgres)
    res = server._run("initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust",
                      "--encoding=UTF8", "--no-locale", "--no-sync", check=False)
    if res.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {res.stderr}")
    server.start()
    return server
