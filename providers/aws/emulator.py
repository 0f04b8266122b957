"""The embedded AWS emulator for the local sandbox: moto, with small compatibility fixes.

Used by environments with `cloud: {provider: aws, emulator: embedded}` (install the
`appcomposer[local]` extra) and by the test suite. Everything Composer runs against it
(Terraform's AWS provider, boto3) is pointed at it with environment variables only, so
provider blocks stay production-identical.

Why the patches: stock moto 5.2 is not enough for the Terraform AWS provider.

1. ElastiCache: ``CreateCacheCluster`` / ``DescribeCacheClusters`` return a cluster without
   ``CacheNodes`` (and without ``ConfigurationEndpoint`` for memcached). The provider's read of
   ``aws_elasticache_cluster`` needs ``CacheNodes[].Endpoint.{Address,Port}`` and
   ``CustomerAvailabilityZone`` (it fails with "Unexpected nil pointer" otherwise), and the
   redis module's ``host``/``port`` outputs come from ``cache_nodes[0]``.
2. ElastiCache: ``DeleteCacheCluster`` only flips the status to "deleting" and never removes
   the cluster, so the provider's delete waiter polls until its 40 min timeout.
3. SQS: moto returns ``RedrivePolicy`` with spaces where AWS returns compact JSON; the provider
   compares the string with its compact config, so every plan after an apply showed a spurious
   update.
4. S3 and DynamoDB: moto checks a write's condition (`If-None-Match`, `If-Match`,
   `ConditionExpression`) and then writes, in two steps, on the server's per-request thread; two
   racing conditional writes could both pass (seen under CPU contention: two holders of one state
   lock). AWS makes each conditional write atomic, so the emulator serializes S3 and DynamoDB writes.

The patches are applied once, when this module is imported, and touch nothing else in moto.

    python -m providers.aws.emulator --port 0 --port-file F   # serve until SIGTERM
    url, stop = start_moto()                                  # in-process, background thread
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

from moto.core.utils import utcnow
from moto.elasticache import models as _ec_models
from moto.sqs import models as _sqs_models

__all__ = ["start_moto", "reset", "aws_env", "main"]

_PATCHED_FLAG = "_composer_patched"


def _patch_elasticache() -> None:
    cluster_cls = _ec_models.CacheCluster
    backend_cls = _ec_models.ElastiCacheBackend
    if getattr(cluster_cls, _PATCHED_FLAG, False):
        return

    original_init = cluster_cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        region = kwargs.get("region_name") or self.arn.split(":")[3]
        engine = (self.engine or "redis").lower()
        if engine == "memcached" and not kwargs.get("port"):
            self.port = 11211  # moto defaults every engine to 6379
        # moto sets num_cache_nodes only for redis and memcached (not valkey)
        count = getattr(self, "num_cache_nodes", None) or 1
        self.num_cache_nodes = count
        az = self.preferred_availability_zone or f"{region}a"
        self.preferred_availability_zone = az
        parts = region.split("-")  # us-east-1 -> use1, as in real endpoint names
        short = parts[0] + "".join(x[0] for x in parts[1:-1]) + parts[-1]
        base = f"{self.cache_cluster_id}.{self.cache_node_id[:6]}"
        suffix = f"{short}.cache.amazonaws.com"
        self.cache_nodes = [
            {
                "CacheNodeId": f"{i:04d}",
                "CacheNodeStatus": "available",
                "CacheNodeCreateTime": utcnow(),
                "Endpoint": {
                    "Address": f"{base}.{i:04d}.{suffix}",
                    "Port": int(self.port),
                },
                "ParameterGroupStatus": "in-sync",
                "CustomerAvailabilityZone": az,
            }
            for i in range(1, count + 1)
        ]
        if engine == "memcached":
            self.configuration_endpoint = {"Address": f"{base}.cfg.{suffix}", "Port": int(self.port)}

    def delete_cache_cluster(self: Any, cache_cluster_id: str) -> Any:
        if cache_cluster_id and cache_cluster_id in self.cache_clusters:
            cluster = self.cache_clusters.pop(cache_cluster_id)
            cluster.cache_cluster_status = "deleting"
            self.tagging_service.delete_all_tags_for_resource(cluster.arn)
            return cluster
        raise _ec_models.CacheClusterNotFound(cache_cluster_id)

    cluster_cls.__init__ = __init__
    backend_cls.delete_cache_cluster = delete_cache_cluster
    setattr(cluster_cls, _PATCHED_FLAG, True)


def _patch_sqs() -> None:
    queue_cls = _sqs_models.Queue
    if getattr(queue_cls, _PATCHED_FLAG, False):
        return
    original_attributes = queue_cls.attributes

    def attributes(self: Any) -> dict[str, Any]:
        result = original_attributes.fget(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    queue_cls.attributes = property(attributes)
    setattr(queue_cls, _PATCHED_FLAG, True)


_patch_elasticache()
_patch_sqs()


_WRITES_SERIALIZED = threading.Lock()
_ATOMIC_SERVICES = ("/s3/aws4_request", "/dynamodb/aws4_request")


def _serialize_conditional_writes() -> None:
    """Patch 4: one S3 or DynamoDB write at a time (reads and other services stay concurrent)."""
    from moto.moto_server import threaded_moto_server

    base = threaded_moto_server.DomainDispatcherApplication
    if getattr(base, _PATCHED_FLAG, False):
        return

    class SerializedWrites(base):  # type: ignore[misc, valid-type]
        def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            credential_scope = environ.get("HTTP_AUTHORIZATION", "")
            if environ.get("REQUEST_METHOD") in ("GET", "HEAD") or not any(
                s in credential_scope for s in _ATOMIC_SERVICES
            ):
                return super().__call__(environ, start_response)
            with _WRITES_SERIALIZED:
                return list(super().__call__(environ, start_response))

    setattr(SerializedWrites, _PATCHED_FLAG, True)
    threaded_moto_server.DomainDispatcherApplication = SerializedWrites  # type: ignore[misc]


def start_moto(port: int = 0, host: str = "127.0.0.1", quiet: bool = True) -> tuple[str, Callable[[], None]]:
    """Run a moto server in this process on a background thread.

    Returns ``(url, stop)``; ``port=0`` picks a free port.  ``quiet`` silences werkzeug's
    per-request log lines.
    """
    from moto.server import ThreadedMotoServer

    _serialize_conditional_writes()
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return f"http://{bound_host}:{bound_port}", server.stop


def reset(url: str, timeout: float = 10.0) -> None:
    """Wipe every moto backend (``POST /moto-api/reset``)."""
    req = urllib.request.Request(url.rstrip("/") + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


def aws_env(url: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment variables that point Terraform's AWS provider (and boto3) at ``url``.

    Provider blocks stay production-identical; only the environment differs.
    """
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": region,
    }


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".moto-port-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Composer's embedded AWS emulator (moto with compatibility fixes)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port to this file")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)

    url, stop = start_moto(port=args.port, host=args.host, quiet=args.quiet)
    port = url.rsplit(":", 1)[1]
    if args.port_file:
        _write_atomically(args.port_file, port + "\n")
    else:  # the port is told once, one way: a caller with a port file reads no stdout
        print(port, flush=True)

    done = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not done.wait(0.2):  # a timed wait keeps the main thread responsive to signals
        pass
    stop()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation: tearing down moto's module graph takes ~2 s and there is
    # nothing left to clean up once the server has stopped.
    os._exit(code)
