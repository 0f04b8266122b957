"""One engine run for plan, apply and destroy: lock the environment's state, enter the sandbox
emulator when the environment asks for one, catch SIGINT/SIGTERM, build the engine with its
ports, run one step, and report the result. Each command only says which step it runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from composer.cli.common import EXIT_LOCKED, Exit, registry
from composer.cli.run_report import report  # noqa: F401 (commands import it from here)
from composer.cli.views import RunView, View
from composer.cli.wiring import RunOptions, open_store, preflight, running_engine, state_dir
from composer.diagnostics import Diagnostic, Severity
from composer.project import Compiled
from composer.runners.terraform import environment_warnings, interrupt_all, reset_interrupt
from composer.runners.workspace import forget_terraform_states
from composer.state.model import new_state
from composer.state.protocol import LockHeld, StateStore, new_lock_info

if TYPE_CHECKING:
    from composer.engine.run import Engine
    from composer.state.model import StateDoc

Verb = Literal["plan", "apply", "destroy", "drift"]
R = TypeVar("R")


@dataclass(frozen=True)
class EngineSession:
    """What a step runs with: the engine (its store set), the state read under the lock, the progress view."""

    engine: Engine
    store: StateStore
    state: StateDoc
    progress: RunView
    prepared: Any = None  # what `before` returned (a saved plan)


def _lock_held(compiled: Compiled, exc: LockHeld) -> Diagnostic:
    env = compiled.resolved.environment.name
    holder = exc.info.describe() if exc.info else "an unknown holder"
    unlock = f"appc force-unlock -e {env} {exc.info.id if exc.info else ''} --force".replace("  ", " ")
    return Diagnostic(
        f"the state of {compiled.resolved.name}/{env} is locked",
        f"held by {holder} at {exc.where}. Wait for it, pass --lock-timeout, or if that process is gone: {unlock}",
    )


@contextmanager
def locked_state(
    compiled: Compiled, view: View, operation: str, lock_timeout: float
) -> Iterator[tuple[StateStore, StateDoc]]:
    """Hold the environment's state lock; a held lock is exit 4 naming the holder."""
    from composer.runners.provenance import recording

    store = recording(
        open_store(compiled, lambda msg: view.diagnostics([Diagnostic(msg, severity=Severity.WARNING)])), compiled
    )
    view.diagnostics([Diagnostic(w, severity=Severity.WARNING) for w in environment_warnings()])
    info = new_lock_info(operation)
    try:
        store.lock(info, timeout=lock_timeout)
    except LockHeld as exc:
        view.diagnostics([_lock_held(compiled, exc)])
        view.summary(False, EXIT_LOCKED)
        raise Exit(EXIT_LOCKED) from None
    try:
        with ExitStack() as stack:
            state = store.read() or new_state(compiled.resolved.name, compiled.resolved.environment.name)
            cloud = compiled.resolved.environment.spec.cloud
            if cloud is not None and cloud.emulator:
                state = _enter_sandbox(stack, compiled, store, state, view)
            yield store, state
    finally:
        store.unlock(info)


def _enter_sandbox(stack: ExitStack, compiled: Compiled, store: StateStore, state: StateDoc, view: View) -> StateDoc:
    """Point every AWS client at the emulator; reset state made against another emulator."""
    from composer.runners import sandbox  # (urllib.request: only for an environment with an emulator)

    url, instance = stack.enter_context(sandbox.session(state_dir(compiled)))
    view.event("sandbox", url=url, instance=instance)
    if state.emulator != instance:
        if state.units:
            view.info(
                f"[yellow]the sandbox emulator at {url} is not the one the last run used: starting the sandbox from scratch[/yellow]"
            )
        forget_terraform_states(state_dir(compiled), compiled.resolved.name, compiled.resolved.environment.name)
        state = store.write(state.model_copy(update={"units": {}, "inventory": {}, "emulator": instance}))
    return state


@contextmanager
def interruptible(view: View) -> Iterator[threading.Event]:
    """SIGINT/SIGTERM: stop starting units, ask running terraform to stop cleanly, keep state."""
    stop = threading.Event()
    reset_interrupt()

    def handler(signum: int, frame: FrameType | None) -> None:
        first = not stop.is_set()
        stop.set()
        n = interrupt_all()
        if first:
            view.err.print(
                f"[yellow]interrupted: {'asking ' + str(n) + ' terraform run(s) to stop cleanly; ' if n else ''}no new units start; state is kept[/yellow]"
            )

    previous = (
        {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        yield stop
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def unit_kinds(compiled: Compiled, state: StateDoc | None = None) -> list[tuple[str, str]]:
    """(unit, kind) in the model's order, then units only the state still knows (to be pruned)."""
    kinds = {c.name: "terraform" if c.is_terraform else "kubernetes" for c in compiled.resolved.components}
    out = [(n, kinds[n]) for n in compiled.graph.order]
    if state is not None:
        out += [(n, u.kind) for n, u in state.units.items() if n not in compiled.graph.order]
    return out


def run_engine(
    view: View,
    verb: Verb,
    compiled: Compiled,
    options: RunOptions,
    step: Callable[[EngineSession], R],
    needs_credentials: Callable[[EngineSession], bool],
    before: Callable[[StateStore, StateDoc], Any] | None = None,
) -> tuple[R, EngineSession]:
    """Lock, build the engine, run `step`. Credentials are checked before any Terraform runs,
    and only when `needs_credentials` says the run will touch the cloud. `before` runs under the
    lock, before the progress table starts (reading a saved plan)."""
    reg = registry()
    title = f"{verb} {compiled.resolved.name}/{compiled.resolved.environment.name}"
    with locked_state(compiled, view, verb, options.lock_timeout) as (store, state), interruptible(view) as stop:
        prepared = before(store, state) if before is not None else None
        with (
            RunView(view, unit_kinds(compiled, state), title) as progress,
            running_engine(compiled, reg, options, progress, stop.is_set) as engine,
        ):
            engine.store = store
            session = EngineSession(engine, store, state, progress, prepared)
            if needs_credentials(session):
                preflight(reg, compiled)
            return step(session), session
