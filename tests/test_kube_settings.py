"""The cluster sink's settings come through RunOptions as typed values, each with a flag and a
COMPOSER_* variable: here --kube-workers / COMPOSER_KUBE_WORKERS (threads applying one unit's
objects) and --kube-qps / --kube-burst (the token bucket per API server), once read deep inside
the runner."""

from __future__ import annotations

from composer.cli.wiring import RunOptions
from composer.project import compile_project, open_project
from composer.runners.kube import client
from composer.runners.kubernetes import ClusterSink
from tests.helpers import appc
from tests.test_kubernetes import messages, project


def test_kube_workers_reach_the_sink_and_bad_values_are_refused_before_anything_runs(
    tmp_path, kube_clean, registry, monkeypatch
):
    app = project(tmp_path, {"context": "standin", "namespace": "shop"})
    resolved = compile_project(open_project(app), "dev", registry).resolved
    (sink,) = ClusterSink.for_environment(resolved, RunOptions(kube_workers=7, timeout=9, kube_qps=5, kube_burst=2))
    assert (sink.workers, sink.timeout) == (7, 9)
    assert (sink.client.limiter.qps, sink.client.limiter.burst) == (5, 2)
    assert sink.client.api.configuration.connection_pool_maxsize == 9  # a connection per thread, and two spare

    args = ("apply", "-f", str(app), "-e", "dev", "--auto-approve", "--json")
    r = appc(*args, "--kube-workers", "0")
    assert r.code == 1 and "--kube-workers" in messages(r), messages(r)
    monkeypatch.setenv("COMPOSER_KUBE_WORKERS", "many")
    r = appc(*args)
    assert r.code == 1 and "--kube-workers" in messages(r), messages(r)
    for flag, bad in (("--kube-qps", "0"), ("--kube-burst", "0"), ("--kube-qps", "fast")):
        r = appc(*args, flag, bad, "--kube-workers", "2")
        assert r.code == 1 and flag in messages(r), messages(r)
    assert kube_clean.stats()["total"] == 0  # refused before any request

    monkeypatch.setenv("COMPOSER_KUBE_WORKERS", "1")
    monkeypatch.setenv("COMPOSER_KUBE_QPS", "2000")
    monkeypatch.setenv("COMPOSER_KUBE_BURST", "3000")
    kube_clean.set_auto_ready(True)
    r = appc(*args)
    assert r.code == 0 and r.events[-1]["k8s_writes"] > 0, messages(r)
    buckets = {(b.qps, b.burst) for b in client._BUCKETS.values()}
    assert (2000, 3000) in buckets, buckets  # the variables reached the token bucket
