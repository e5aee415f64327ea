"""Where a scan's decoding and hashing run: the local process pool, or a Dask distributed cluster.

An engine takes ``(Item, AnalysisOptions)`` tasks and yields one ``Analysis`` per task, in
completion order. What runs where is ``detection.analysis.analyse``, the same function for both:
so a cluster scan gives exactly the local scan's hashes, and everything after the hashing
(matching, flags, resume, the review queue) is the one code path in detection.service.

Only an item's URI (a local path, or any fsspec URL the deployment mounts on its workers) and the
analysis options cross the network to a worker; only hashes and the per-item status come back.
Workers never receive the registry, nor an upload's bytes (an upload is hashed where it was
received). Plain data in, plain data out: no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from detection.analysis import Analysis, AnalysisOptions, analyse, run_parallel
from detection.sources import Item
from errors import ConfigurationError

Task = tuple[Item, AnalysisOptions]
# Tasks in flight per worker thread on a cluster: enough to hide a round trip, few enough that
# a ten-million-item crawl never queues ten million futures on the scheduler.
DASK_WINDOW_PER_THREAD = 4


class Engine(Protocol):
    """Runs ``analyse`` over tasks; yields every task's Analysis once, in completion order."""

    name: str

    def run(self, tasks: Iterable[Task]) -> Iterator[Analysis]: ...


@dataclass(frozen=True)
class LocalEngine:
    """Today's engine: ``workers`` spawned processes on this machine (1: in this process)."""

    workers: int = 2
    name: str = "local"

    def run(self, tasks: Iterable[Task]) -> Iterator[Analysis]:
        return run_parallel(analyse, tasks, workers=self.workers)


@dataclass(frozen=True)
class DaskEngine:
    """A Dask distributed cluster whose scheduler is at ``address`` (``tcp://HOST:8786``).

    Tasks are submitted a window at a time (``window``, by default DASK_WINDOW_PER_THREAD per
    worker thread the scheduler knows when the run starts) and collected with ``as_completed``;
    each result is released as soon as it has been read. A worker that dies mid-scan has its
    tasks rerun elsewhere by the scheduler; a run that is stopped (the client interrupted)
    cancels what is still in flight. ``client`` is a ``distributed.Client`` to reuse (left
    open); without it one is opened for the run and closed after it.
    """

    address: str
    window: int | None = None
    client: object | None = None
    connect_seconds: float = 10.0
    name: str = "dask"

    def run(self, tasks: Iterable[Task]) -> Iterator[Analysis]:
        from distributed import Client, as_completed

        tasks = iter(tasks)
        own = self.client is None
        try:
            client = (Client(self.address, set_as_default=False, timeout=self.connect_seconds)
                      if own else self.client)
        except (OSError, TimeoutError) as exc:
            raise ConfigurationError(
                "detection.dask_scheduler_unreachable",
                "the Dask scheduler at {address} cannot be reached ({exc}); start it "
                "(`dask scheduler`) or scan on the local pool without --cluster",
                address=self.address, exc=exc) from None
        pending: set = set()
        try:
            window = self.window or DASK_WINDOW_PER_THREAD * max(
                1, sum(client.nthreads().values()))

            def submit(task: Task):
                _check_sendable(task[0])
                # pure=False: a resumed scan submits the same item again under a new key, never
                # finding the cancelled future of the interrupted run.
                fut = client.submit(analyse, task, pure=False)
                pending.add(fut)
                return fut

            first = [submit(t) for _, t in zip(range(window), tasks)]
            done = as_completed(first, loop=client.loop)
            for fut in done:
                pending.discard(fut)
                nxt = next(tasks, None)
                if nxt is not None:
                    done.add(submit(nxt))
                result = fut.result()
                fut.release()
                yield result
        finally:
            if pending:
                client.cancel(list(pending))
            if own:
                client.close()


def _check_sendable(item: Item) -> None:
    if item.data is not None:
        # An upload's bytes stay where they were received: a worker reads by URI only.
        raise ValueError(f"{item.path} is held in memory; an upload is hashed locally, not on a cluster")


def engine_for(*, workers: int = 2, cluster: str | None = None) -> Engine:
    """The cluster at ``cluster`` when one is given, else the local pool of ``workers``."""
    address = (cluster or "").strip()
    if not address:
        return LocalEngine(workers)
    if "://" not in address:
        address = "tcp://" + address
    return DaskEngine(address)
