"""What every part of the cluster sink shares: where it points (client, context, namespace),
the run's settings (--timeout, --no-wait, --force-conflicts, --kube-workers), and the few
requests everything uses: get one object, delete one, poll until something holds, and turn a
client failure into a diagnostic (errors.py). `Planned` is one rendered object as it is sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.kube.client import ApiError, KubeClient, Unreachable
from composer.runners.kube.errors import Failure, translate
from composer.runners.kube.resources import Resource
from composer.state.model import InventoryItem

DEFAULT_WORKERS = 4  # threads applying one unit's objects; the engine runs units in parallel too
FIELD_MANAGER = "appc"


@dataclass
class Planned:
    """One rendered object, ready to send: where it goes and its inventory digest."""

    source: dict[str, Any]  # as rendered: its digest is the inventory hash
    body: dict[str, Any]  # as sent: namespace filled in
    resource: Resource
    digest: str

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.source["kind"], self.source["metadata"].get("namespace"), self.source["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        return self.body["metadata"].get("namespace")

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def label(self) -> str:
        return f"{self.resource.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass
class ClusterBase:
    """One context + namespace and the run's settings. Thread-safe: the engine applies
    independent units in parallel."""

    client: KubeClient
    app: str
    environment: str
    context: str
    namespace: str
    timeout: float = 3600.0
    no_wait: bool = False
    force_conflicts: bool = False
    take_over: tuple[str, ...] = ()  # the app's takeOver entries: [COMPONENT/]KIND, COMPONENT/* or *
    recreate: tuple[str, ...] = ()  # the app's recreate entries, the same shape
    read_only: tuple[str, ...] = ()  # the app's readOnly entries, the same shape (hands_off.py)
    shared: tuple[str, ...] = ()  # the app's shared entries, the same shape (hands_off.py)
    workers: int = DEFAULT_WORKERS
    # A promoted copy's unit -> the namespace it lands in (composer/model/promotion.py): the one
    # namespace other than the sink's that an apply creates when missing (namespace.py).
    promotions: Mapping[str, str] = field(default_factory=dict)
    poll_interval: float = 0.25
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _threads: ThreadPoolExecutor | None = field(default=None, repr=False)  # made on first use, kept
    _namespace_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one unit checks it
    _namespace_ready: bool = field(default=False, repr=False)
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)  # secret name -> digest known to be live
    # Objects the reality probe found changed by another field manager (composer/runners/kube_probe.py):
    # written again taking our fields back, except the paths in the value (policies.ignoreDrift).
    reclaim: dict[tuple[str, str | None, str], tuple[str, ...]] = field(default_factory=dict, repr=False)
    # Objects the API server answered with a Pod Security warning (warn mode; by default the
    # namespace's enforce level): the rollout wait looks for their refused pod creations.
    _pod_security_warned: dict[tuple[str, str | None, str], str] = field(default_factory=dict, repr=False)
    _preview_warnings: dict[str, list[str]] = field(default_factory=dict, repr=False)  # component -> plan's

    def __post_init__(self) -> None:
        self.client.timeout = self.timeout  # --timeout bounds every wait, a slow API request too

    @property
    def target(self) -> str:
        return f"kube:{self.context}/{self.namespace}"

    def takes_over(self, component: str, kind: str) -> bool:
        """Whether apply forces this object's fields from other managers (the app's takeOver)."""
        return selected(self.take_over, component, kind)

    def recreates(self, component: str, kind: str) -> bool:
        """Whether apply recreates this object when a change is refused as immutable (the app's recreate)."""
        return selected(self.recreate, component, kind)

    def _fail(
        self,
        exc: Exception,
        component: str | None,
        verb: str,
        what: str,
        resource: Resource | None = None,
        secret: bool = False,
    ) -> DiagnosticError:
        """The client failure as a DiagnosticError, ready to raise (errors.py translates it)."""
        failure = Failure(
            self.context, self.namespace, self.client.server, self.timeout, component, verb, what, resource, secret
        )
        return DiagnosticError([translate(exc, failure)])

    def _get(self, component: str, res: Resource, namespace: str | None, name: str) -> dict | None:
        try:
            return self.client.request("GET", res.path(namespace, name))
        except ApiError as err:
            if err.status == 404:
                return None
            raise self._fail(err, component, "get", f"{res.kind} {name}", res) from None
        except Unreachable as exc:
            raise self._fail(exc, component, "get", f"{res.kind} {name}", res) from None

    def _delete_one(
        self, component: str | None, res: Resource, namespace: str | None, name: str, secret: bool = False
    ) -> int:
        what = f"{res.kind} {namespace + '/' if res.namespaced and namespace else ''}{name}"
        try:
            self.client.request(
                "DELETE",
                res.path(namespace, name),
                body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"},
            )
            return 1
        except ApiError as err:
            if err.status == 404:
                return 0
            raise self._fail(err, component, "delete", what, res, secret=secret) from None
        except Unreachable as exc:
            raise self._fail(exc, component, "delete", what, res) from None

    def _item_resource(self, component: str, item: InventoryItem) -> Resource | None:
        try:
            return self.client.resource(item.api_version, item.kind)
        except (ApiError, Unreachable) as exc:
            raise self._fail(exc, component, "discover", f"the API of {item.kind} ({item.api_version})") from None

    def _in_parallel(self, work: Callable[[int], None], count: int) -> None:
        """work(0), ..., work(count - 1) on at most `workers` threads at once. The threads are
        the sink's, made once and reused by every unit and phase: a thread started under a busy
        interpreter waits for the GIL before its start returns, which 10 units x 2 phases x 4
        workers paid 80 times (issue 13). Every call has ended when this returns; the first
        exception any raised is raised here then."""
        with self._lock:
            if self._threads is None:
                # Threads start only when none is idle: room for every unit --parallelism (at most
                # 64) may run at once, each with its `workers`, as when each unit had its own pool.
                self._threads = ThreadPoolExecutor(max_workers=self.workers * 64, thread_name_prefix="appc-kube")
            threads = self._threads
        indices = iter(range(count))
        taking = threading.Lock()

        def drain() -> None:
            while True:
                with taking:
                    i = next(indices, None)
                if i is None:
                    return
                work(i)

        futures = [threads.submit(drain) for _ in range(min(self.workers, count))]
        wait(futures)
        for f in futures:
            f.result()

    def _poll(self, component: str, what: str, done: Callable[[], bool]) -> None:
        """Until done() is true, polling with backoff, within --timeout."""
        deadline = time.monotonic() + self.timeout
        interval = self.poll_interval
        while not done():
            if time.monotonic() + interval > deadline:
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"component {component}: waited {self.timeout:g}s for {what}",
                            "Raise --timeout, or look at the object with kubectl.",
                            address=component,
                        )
                    ]
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)


def selected(entries: tuple[str, ...], component: str, kind: str) -> bool:
    return any(e in ("*", kind, f"{component}/*", f"{component}/{kind}") for e in entries)
