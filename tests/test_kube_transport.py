"""The cluster sink's wire (composer/runners/kube/transport.py): requests go on the official
client's own pool for the server (same pool, same TLS settings); a TLS failure is one verdict,
not retried; a server URL with a path, which the direct pool would not keep, goes through the
official REST layer as before; the bytes a request carries are the ones the REST layer sends."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from composer.runners.kube.client import APPLY_CONTENT_TYPE, ApiError, KubeClient, Unreachable


def kubeconfig_with(kube, tmp_path: Path, server: str) -> str:
    doc = yaml.safe_load(Path(kube.kubeconfig_path).read_text())
    for c in doc["clusters"]:
        c["cluster"] = {"server": server, "insecure-skip-tls-verify": True}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def cluster_sink(kube, namespace: str, **options):
    from composer.runners.kubernetes import ClusterSink

    client = KubeClient.for_context(kube.kubeconfig_path, "standin", 2)
    return ClusterSink(
        client, app="shop", environment="dev", context="standin", namespace=namespace, no_wait=True, **options
    )


def test_requests_go_on_the_official_clients_pool_for_the_server(kube_clean):
    kc = KubeClient.for_context(kube_clean.kubeconfig_path, "standin", 2)
    pools = list(kc.api.rest_client.pool_manager.pools._container.values())
    assert kc.wire._pool is not None and any(p is kc.wire._pool for p in pools)
    kc.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w"}})
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "w"}, "data": {"k": "v v"}}
    live = kc.request(
        "PATCH",
        "/api/v1/namespaces/w/configmaps/c",
        query={"fieldManager": "appc", "force": True},
        body=cm,
        content_type=APPLY_CONTENT_TYPE,
    )
    assert live is not None and live["data"] == {"k": "v v"}
    assert [m["manager"] for m in live["metadata"]["managedFields"]] == ["appc"]  # the query arrived whole
    listed = kc.request("GET", "/api/v1/namespaces/w/configmaps", query={"labelSelector": "a in (b, c)"})
    assert listed is not None and listed["items"] == []  # a selector with spaces: urlencoded as the REST layer does
    with pytest.raises(ApiError) as exc:
        kc.request("GET", "/api/v1/namespaces/w/configmaps/absent")
    assert exc.value.status == 404 and exc.value.reason == "NotFound" and "absent" in exc.value.message


def test_a_tls_failure_is_unreachable_at_once(kube_clean, tmp_path):
    """An https URL on a plain-http port: the handshake fails; as the REST layer reported it
    (status 0, "SSLError"), and without the retries a refused connection gets."""
    doc = yaml.safe_load(Path(kube_clean.kubeconfig_path).read_text())
    server = doc["clusters"][0]["cluster"]["server"].replace("http://", "https://")
    kc = KubeClient.for_context(kubeconfig_with(kube_clean, tmp_path, server), "standin", 2)
    with pytest.raises(Unreachable) as exc:
        kc.request("GET", "/api/v1/namespaces")
    assert exc.value.cause == "SSLError" and kc.requests == 1


def test_a_server_url_with_a_path_goes_through_the_rest_layer(kube_clean, tmp_path):
    """`https://host/prefix` (a proxy in front of the API): the path is kept, as the REST layer
    keeps it; the stand-in serves no prefix and answers 404 for /prefix/api/v1/namespaces."""
    server = yaml.safe_load(Path(kube_clean.kubeconfig_path).read_text())["clusters"][0]["cluster"]["server"]
    kc = KubeClient.for_context(kubeconfig_with(kube_clean, tmp_path, server + "/prefix"), "standin", 2)
    assert kc.wire._pool is None
    with pytest.raises(ApiError) as exc:
        kc.request("GET", "/api/v1/namespaces")
    assert exc.value.status == 404
    plain = KubeClient.for_context(kubeconfig_with(kube_clean, tmp_path, server), "standin", 2)
    assert plain.request("GET", "/api/v1/namespaces") is not None


def test_units_applied_in_parallel_check_and_create_their_namespace_once(kube_clean):
    """Four units start together on one sink: one GET of the namespace and one create, not
    four of each (three of them answered 409)."""
    from concurrent.futures import ThreadPoolExecutor

    sink = cluster_sink(kube_clean, "together")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda i: sink.apply(f"u{i}", [{**cm, "metadata": {"name": f"c{i}"}}], ()), range(4)))
    assert sum(writes for _, writes in done) == 4 + 1  # four objects and the namespace
    stats = kube_clean.stats()
    assert stats["by_verb"].get("create") == 1 and stats["by_verb"].get("get") == 1, stats["by_verb"]


def test_the_sink_applies_every_unit_and_phase_on_the_same_threads(kube_clean):
    """--kube-workers threads at most per batch, made once: two units of two phases each
    apply on the same two threads (were a new pool, and new threads, per phase and unit)."""
    sink = cluster_sink(kube_clean, "reuse", workers=2)
    for unit in ("a", "b"):
        cms = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{unit}{i}"}} for i in range(5)]
        sas = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{unit}s{i}"},
                "spec": {"ports": [{"port": 80}]},
            }
            for i in range(3)
        ]
        items, writes = sink.apply(unit, cms + sas, ())
        assert len(items) == 8 and writes >= 8
    assert sink._threads is not None and len(sink._threads._threads) == 2
