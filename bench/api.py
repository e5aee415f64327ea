"""Benchmark of the partners' matching API over HTTP: requests and hashes a second, p95 latency, memory.

    python -m bench.api [--quick] [--sizes 1000000,10000000] [--processes 1,2] [--seconds S]
                        --json PATH

For each registry size and number of server processes it starts the real app (`api.app`, under
uvicorn) in child processes on one free 127.0.0.1 port (SO_REUSEPORT: the kernel spreads the
connections over the processes, as `dscr api --workers N` does with its shared socket), each
holding an index of random 256-bit PDQ hashes, then sends `POST /v1/match` requests of
``--batch`` hashes from ``--clients`` client threads (keep-alive connections) for ``--seconds``
or ``--max-requests``, whichever ends first. A tenth of the queries are registry hashes with up
to 31 bits flipped (so answers are not all empty); the rest are random.

Every request goes the whole way a partner's does: token check against the database, rate limit,
matching, opaque ids, and one audit entry written: in a PostgreSQL the benchmark starts (as the
tests do, from the machine's binaries; ``--backend sqlite`` for a SQLite file instead), with the
key files in a temporary data folder. The
registry hashes are put into each server's index directly (generated with NumPy from a seed), not
read from the registry table: loading 10M rows through the store is a start-up cost, not what is
measured. The server's resident memory is read from /proc once its index is built.

Ratios are against the first configuration of the same run (the smallest size, one process).
Bounded: at most ``--max-requests`` requests and ``--seconds`` per configuration; a server that
does not come up within ``--start-timeout`` seconds fails the run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import machine, print_table, ratio, write_json

SEED = 20261202
FULL_SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (10_000, 100_000)
ID_OFFSET = 10**9  # registry row ids of the generated hashes, clear of real rows
COLUMNS = ["registry_size", "processes", "requests", "requests_per_s", "hashes_per_s",
           "p50_ms", "p95_ms", "matched_share", "server_rss_mb", "build_s", "qps_ratio",
           "p95_ratio"]
ROOT = Path(__file__).resolve().parent.parent


def registry_words(size: int, seed: int) -> np.ndarray:
    """The generated registry: ``size`` random 256-bit hashes as (n, 4) uint64 (the first k rows
    are the same for every size with one seed)."""
    return np.random.default_rng(seed).integers(0, 2**64, size=(size, 4), dtype=np.uint64)


def _hex(words: np.ndarray) -> list[str]:
    return [bytes(r).hex() for r in words.astype(">u8").view(np.uint8).reshape(-1, 32)]


def queries(size: int, seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed + 1)
    planted = registry_words(min(size, 10_000), seed)[rng.integers(0, min(size, 10_000), n // 10)]
    for row in planted:  # up to 31 bits flipped: within PDQ's threshold
        for b in rng.choice(256, int(rng.integers(0, 32)), replace=False):
            row[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    rand = rng.integers(0, 2**64, size=(n - planted.shape[0], 4), dtype=np.uint64)
    words = np.concatenate([planted, rand])[rng.permutation(n)]
    return [{"algorithm": "pdq", "hash": h} for h in _hex(words)]


# --- the server side (a child process) ------------------------------------------------------

def serve(port: int, size: int, seed: int) -> None:
    import uvicorn

    from api.app import create_app
    from db.context import Runtime
    from partners.index import LiveIndex

    start = time.perf_counter()
    index = LiveIndex()
    index.build("pdq", registry_words(size, seed), ID_OFFSET + np.arange(size, dtype=np.int64))
    build = time.perf_counter() - start
    app = create_app(Runtime(), index=index)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    print(json.dumps({"build_s": build}), flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(conn: http.client.HTTPConnection, body: bytes, token: str) -> dict:
    conn.request("POST", "/v1/match", body=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    data = json.loads(r.read())
    if r.status != 200:
        raise RuntimeError(f"the server answered {r.status}: {data}")
    return data


def _wait_healthy(port: int, procs: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a server process ended while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)  # the servers are building their indexes: ask again
    raise RuntimeError(f"the servers did not answer within {timeout} s")


def run_one(env: dict[str, str], token: str, size: int, processes: int, args) -> dict:
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "bench.api", "--serve", str(port),
                               "--size", str(size), "--seed", str(args.seed)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(processes)]
    try:
        builds = [json.loads(p.stdout.readline() or "{}").get("build_s", float("nan"))
                  for p in procs]
        _wait_healthy(port, procs, args.start_timeout)
        rss = [_rss_mb(p.pid) for p in procs]
        bodies = [json.dumps({"hashes": q}).encode() for q in _batches(size, args)]
        latencies: list[float] = []
        matched = asked = 0
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        sent = iter(range(args.max_requests))

        def client(k: int) -> None:
            nonlocal matched, asked
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine, m, a = [], 0, 0
            try:
                for i in sent:
                    if time.monotonic() > stop_at:
                        break
                    t0 = time.perf_counter()
                    data = _post(conn, bodies[(i + k) % len(bodies)], token)
                    mine.append(time.perf_counter() - t0)
                    m, a = m + data["matched"], a + data["asked"]
            finally:
                conn.close()
                with lock:
                    latencies.extend(mine)
                    matched, asked = matched + m, asked + a

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    n = len(latencies)
    q = statistics.quantiles(latencies, n=100) if n >= 2 else [latencies[0]] * 99 if n else []
    return {
        "registry_size": size, "processes": processes, "requests": n, "seconds": wall,
        "batch": args.batch, "clients": args.clients,
        "requests_per_s": n / wall if wall else float("nan"),
        "hashes_per_s": asked / wall if wall else float("nan"),
        "p50_ms": 1000 * q[49] if q else float("nan"),
        "p95_ms": 1000 * q[94] if q else float("nan"),
        "matched_share": matched / asked if asked else float("nan"),
        "server_rss_mb": max(rss), "server_rss_mb_each": rss, "build_s": max(builds),
    }


def _batches(size: int, args) -> list[list[dict]]:
    qs = queries(size, args.seed, args.batch * 20)
    return [qs[i:i + args.batch] for i in range(0, len(qs), args.batch)]


def setup(folder: Path, url: str | None = None) -> tuple[dict[str, str], str]:
    """A data folder with a migrated database (SQLite in the folder unless ``url`` is given), an
    admin and a partner token (rate limits off: the benchmark measures the service, not the
    limiter)."""
    env = {**os.environ, "DSCR_DATA_DIR": str(folder),
           "DSCR_DATABASE_URL": url or f"sqlite:///{folder / 'dscr.sqlite3'}",
           "DSCR_KEY_FILE": str(folder / "field.key"),
           "DSCR_STUDY_KEY_FILE": str(folder / "study-code.key"),
           "DSCR_API_RATE": "1000000", "DSCR_API_BURST": "100000",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    dscr = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run([*dscr, "db", "upgrade"], env=env, check=True, capture_output=True)
    add = subprocess.run([*dscr, "users", "add", "bench-admin", "--role", "admin",
                          "--password-stdin"], env=env, input="a long bench password 1\n",
                         text=True, capture_output=True)
    if add.returncode:
        raise RuntimeError(add.stderr)
    issued = subprocess.run([*dscr, "--user", "bench-admin", "partner", "issue", "bench-partner"],
                            env=env, check=True, capture_output=True, text=True)
    return env, issued.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 3 s each")
    p.add_argument("--sizes", help="registry sizes, comma-separated (default 1M,10M)")
    p.add_argument("--processes", default="1,2", help="server processes to try (default 1,2)")
    p.add_argument("--seconds", type=float, help="time per configuration (default 10; quick 3)")
    p.add_argument("--max-requests", type=int, default=5000)
    p.add_argument("--batch", type=int, default=100, help="hashes a request (default 100)")
    p.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql",
                   help="the database of the tokens and the audit log (default postgresql, "
                   "started by the benchmark)")
    p.add_argument("--start-timeout", type=float, default=300)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve, args.size, args.seed)
        return 0
    sizes = ([int(float(s)) for s in args.sizes.split(",")] if args.sizes
             else list(QUICK_SIZES if args.quick else FULL_SIZES))
    processes = [int(n) for n in args.processes.split(",")]
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    rows, pg, backend = [], None, args.backend
    with tempfile.TemporaryDirectory(prefix="dscr-bench-api-") as tmp:
        try:
            if args.backend == "postgresql":
                from tests.pg import start_postgres

                pg = start_postgres()
                backend = f"postgresql ({pg.version()})"
            env, token = setup(Path(tmp), pg.url() if pg else None)
            for size in sizes:
                for n in processes:
                    rows.append(run_one(env, token, size, n, args))
                    print(f"  {size:,} hashes, {n} process(es): "
                          f"{rows[-1]['requests_per_s']:.1f} req/s, p95 {rows[-1]['p95_ms']:.1f} ms",
                          file=sys.stderr, flush=True)
        finally:
            if pg is not None:
                pg.destroy()
    base = rows[0]
    for r in rows:
        r["qps_ratio"] = ratio(r["requests_per_s"], base["requests_per_s"])
        r["p95_ratio"] = ratio(r["p95_ms"], base["p95_ms"])
    print(f"matching API over HTTP ({backend}), {args.batch} PDQ hashes a request, "
          f"{args.clients} clients; ratios against {base['registry_size']:,} hashes with "
          f"{base['processes']} process")
    print_table(rows, COLUMNS)
    result = {"benchmark": "api", "backend": backend, "baseline": {"registry_size": base["registry_size"],
                                               "processes": base["processes"]},
              "batch": args.batch, "clients": args.clients, "seconds_each": args.seconds,
              "max_requests": args.max_requests, "rows": rows, "machine": machine()}
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
