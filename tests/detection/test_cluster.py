"""Scans hashed on a real Dask distributed cluster (a LocalCluster of two worker processes on
127.0.0.1): the same results as the local pool, a worker killed mid-scan, a client interrupted."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.schema import ScanItem
from detection import service
from detection.engines import DaskEngine, LocalEngine, engine_for
from detection.sources import Item
from errors import ConfigurationError
from tests.detection import test_cli, test_service
from tests.detection.test_service import EXPECTED, flag_count

# The registry and upload folder of the scan tests (CASE-A of a participant, CASE-B of none).
reviewer, setup = test_service.reviewer, test_service.setup
dscr = test_cli.dscr

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as c:
        yield c


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as c:
        yield c


def results(report: service.ScanReport) -> list[tuple]:
    return [(i.path, i.status, i.error, [(m.flag_id, m.case, m.registry_id, m.algorithm,
                                          m.distance, m.inliers) for m in i.matches])
            for i in report.items]


def stored_items(rt, scan_id: int) -> list[tuple[str, int]]:
    with rt.sessions() as s:
        return sorted(s.execute(select(ScanItem.path, ScanItem.member)
                                .where(ScanItem.scan_id == scan_id)).all())


class KillOnce(distributed.WorkerPlugin):
    """Kills the worker process it runs in when a task starts while ``trigger`` exists.

    The trigger is taken by renaming it, so one worker dies, once, with that task executing:
    the scheduler must run the task again elsewhere. ``killed`` records the task's item.
    """

    def __init__(self, trigger: str, killed: str):
        self.trigger, self.killed = trigger, killed

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing":
            return
        try:
            os.rename(self.trigger, self.trigger + ".taken")
        except FileNotFoundError:
            return
        item = self.worker.state.tasks[key].run_spec.args[0][0]
        Path(self.killed).write_text(item.path)
        os.kill(os.getpid(), signal.SIGKILL)


def test_the_engine_is_the_cluster_only_when_a_scheduler_is_given():
    assert engine_for(workers=3) == LocalEngine(3)
    assert engine_for(workers=3, cluster=" ") == LocalEngine(3)
    assert engine_for(cluster="10.0.0.5:8786") == DaskEngine("tcp://10.0.0.5:8786")


def test_an_upload_held_in_memory_is_never_sent_to_a_cluster(cluster):
    engine = DaskEngine(cluster.scheduler_address)
    with pytest.raises(ValueError, match="held in memory"):
        list(engine.run([(Item("a.jpg", "a.jpg", data=b"\xff\xd8"), None)]))


def test_a_scheduler_that_cannot_be_reached_is_named_with_what_to_do():
    import socket

    with socket.socket() as sock:  # a free loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = DaskEngine(f"tcp://127.0.0.1:{port}", connect_seconds=1)
    with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port} cannot be reached.*--cluster"):
        list(engine.run([(Item("a.jpg", "/nowhere/a.jpg"), None)]))


def test_a_cluster_scan_gives_exactly_the_local_scans_results(rt, setup, reviewer, cluster):
    with rt.context(reviewer) as ctx:
        on_cluster = service.run_scan(ctx, setup["uploads"], cluster=cluster.scheduler_address)
        local = service.run_scan(ctx, setup["uploads"], workers=1)
    assert on_cluster.status == "finished"
    assert results(on_cluster) == results(local)
    assert {i.path: i.status for i in on_cluster.items} == {p: s for p, (s, _) in EXPECTED.items()}
    assert on_cluster.totals == local.totals == {"items": 9, "flagged": 4, "clear": 2,
                                                  "error": 3, "matches": 4}
    assert flag_count(rt) == 4  # the local scan of the same content found the cluster's flags


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_scheduler_from_the_settings_is_used_when_no_cluster_is_given(
        rt, setup, reviewer, cluster, client):
    rt.settings = dataclasses.replace(rt.settings, dask_scheduler=cluster.scheduler_address)
    before = set(_analysed(client))
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, setup["uploads"])
    assert report.status == "finished"
    # Every file was hashed by the cluster's workers, once.
    assert len(set(_analysed(client)) - before) == len(EXPECTED)


def _analysed(client) -> list[str]:
    # The analyse tasks the scheduler has seen finish (its task stream).
    return [str(ev["key"]) for ev in client.get_task_stream()
            if str(ev["key"]).startswith("analyse-")]


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_worker_killed_mid_scan_has_its_task_rerun_and_no_item_lost_or_doubled(
        rt, setup, reviewer, cluster, client, tmp_path):
    trigger, killed = tmp_path / "kill-now", tmp_path / "killed"
    client.register_plugin(KillOnce(os.fspath(trigger), os.fspath(killed)), name="kill-once")
    try:
        def arm_after_three(done, total):
            if done == 3:
                trigger.touch()  # the next task to start kills its worker

        # Two tasks in flight: at least four start after the trigger is armed.
        engine = DaskEngine(cluster.scheduler_address, window=2)
        with rt.context(reviewer) as ctx:
            report = service.run_scan(ctx, setup["uploads"], engine=engine,
                                      progress=arm_after_three)
            local = service.run_scan(ctx, setup["uploads"], workers=1)
    finally:
        client.unregister_worker_plugin("kill-once")
    victim = killed.read_text()  # a worker did die, while hashing this file
    assert victim in EXPECTED and not trigger.exists()
    assert report.status == "finished"
    assert results(report) == results(local)
    assert stored_items(rt, report.scan_id) == sorted((p, 0) for p in EXPECTED)
    # The cluster is whole again: the nanny restarted the killed worker.
    client.wait_for_workers(2, timeout=60)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_cluster_scan_resumes_after_the_client_is_interrupted(rt, setup, reviewer, cluster,
                                                                client):
    def stop_after_three(done, total):
        if done == 3:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C

    with rt.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_scan(ctx, setup["uploads"], cluster=cluster.scheduler_address,
                         progress=stop_after_three)
    with rt.sessions() as s:
        scan_id, = s.scalars(select(ScanItem.scan_id).distinct()).all()
        assert s.scalar(select(func.count()).select_from(ScanItem)) == 3
    # The interrupted run's tasks were cancelled: nothing of it is left on the cluster.
    assert wait_until(lambda: client.run_on_scheduler(_tasks_held) == 0)
    resumed = []
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, setup["uploads"], cluster=cluster.scheduler_address,
                                  resume_scan_id=scan_id,
                                  progress=lambda d, t: resumed.append(d))
        local = service.run_scan(ctx, setup["uploads"], workers=1)
    assert resumed == [4, 5, 6, 7, 8, 9]  # the first three were not hashed again
    assert report.scan_id == scan_id and report.status == "finished"
    assert results(report) == results(local)
    assert stored_items(rt, scan_id) == sorted((p, 0) for p in EXPECTED)


def _tasks_held(dask_scheduler=None):
    return sum(1 for k in dask_scheduler.tasks if str(k).startswith("analyse-"))


def test_a_manifest_scan_on_the_cluster_gives_the_local_results_with_their_sources(
        rt, setup, reviewer, cluster, tmp_path):
    from tests.detection.test_manifests import source_of, write_manifest

    manifest = write_manifest(setup["uploads"], tmp_path / "crawl.csv")
    with rt.context(reviewer) as ctx:
        on_cluster = service.run_manifest_scan(ctx, manifest, cluster=cluster.scheduler_address)
        local = service.run_manifest_scan(ctx, manifest, workers=1)
    assert on_cluster.status == "finished" and results(on_cluster) == results(local)
    uploads = str(setup["uploads"]) + "/"
    assert {i.path: (i.platform, i.page_url) for i in on_cluster.items} == {
        uploads + p: source_of(p)[:2] for p in EXPECTED}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_dscr_scan_hashes_on_the_scheduler_of_DSCR_DASK_SCHEDULER(dscr, cluster, client, tmp_path,
                                                                  monkeypatch):
    from tests.detection.test_service import write_uploads

    uploads = write_uploads(tmp_path / "uploads")
    monkeypatch.setenv("DSCR_DASK_SCHEDULER", cluster.scheduler_address)
    before = set(_analysed(client))
    code, out, _ = dscr("scan", uploads, "--json", tmp_path / "r.json")
    assert code == 0 and "9 files, 0 flagged, 6 clear, 3 errors" in out
    assert len(set(_analysed(client)) - before) == len(EXPECTED)
    # --cluster wins over the variable: a scheduler nobody runs is named in the error.
    code, _, err = dscr("scan", uploads, "--json", tmp_path / "r2.json", "--cluster",
                        "tcp://127.0.0.1:1")
    assert code == 2 and "tcp://127.0.0.1:1 cannot be reached" in err
