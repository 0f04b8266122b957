"""One conformance suite for every state store (composer/state/protocol.py states the contract).

Each test runs against the local store (a tmp directory) and the S3 store with both lock
kinds, against a real moto server. `Backend` gives a test the store and raw access to
what the store keeps, so it can plant corrupt documents and locks and check the bytes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import boto3
import pytest

from composer.diagnostics import DiagnosticError
from composer.state.checks import DriftCheck, UnitProbe
from composer.state.local import LocalStore
from composer.state.model import InventoryItem, Revision, StateDoc, UnitState, new_state, secret_digest
from composer.state.protocol import LockHeld, LockInfo, StoreOptions, encode_lock, new_lock_info
from composer.state.s3 import S3Store

APP, ENV = "shop", "dev"
BUCKET, KEY = "appc-state", "shop/dev/composer.state.json"


@dataclass
class Backend:
    kind: str
    new_store: Callable[..., object]  # (app, environment, options) -> a store
    get_raw: Callable[[], bytes | None]
    put_raw: Callable[[bytes], None]
    put_raw_lock: Callable[[bytes], None]
    warnings: list[str] = field(default_factory=list)

    def store(self, app: str = APP, environment: str = ENV):
        return self.new_store(app, environment, StoreOptions(on_warning=self.warnings.append))


def _local(tmp_path: Path) -> Backend:
    directory = tmp_path / ".composer"
    state, lock = directory / f"{ENV}.state.json", directory / f"{ENV}.lock"

    def put(path: Path, data: bytes) -> None:
        directory.mkdir(exist_ok=True)
        path.write_bytes(data)

    return Backend(
        "local",
        lambda app, env, options: LocalStore(directory, app, env, options),
        lambda: state.read_bytes() if state.exists() else None,
        lambda data: put(state, data),
        lambda data: put(lock, data),
    )


def _s3(lock_kind: str) -> Backend:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    ddb = boto3.client("dynamodb")
    if lock_kind == "dynamodb":
        ddb.create_table(
            TableName=f"{BUCKET}-lock",
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def get_raw() -> bytes | None:
        try:
            return s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    def put_raw_lock(data: bytes) -> None:
        if lock_kind == "dynamodb":
            ddb.put_item(
                TableName=f"{BUCKET}-lock", Item={"LockID": {"S": f"{BUCKET}/{KEY}"}, "Info": {"S": data.decode()}}
            )
        else:
            s3.put_object(Bucket=BUCKET, Key=f"{KEY}.lock", Body=data)

    return Backend(
        f"s3-{lock_kind}",
        lambda app, env, options: S3Store(BUCKET, KEY, app, env, lock=lock_kind, options=options),
        get_raw,
        lambda data: s3.put_object(Bucket=BUCKET, Key=KEY, Body=data),
        put_raw_lock,
    )


@pytest.fixture(params=["local", "s3-dynamodb", "s3-conditional"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        return _local(tmp_path)
    request.getfixturevalue("moto")
    return _s3(request.param.removeprefix("s3-"))


def rich_doc() -> StateDoc:
    doc = new_state(APP, ENV).with_unit(
        "db",
        UnitState(
            kind="terraform",
            type="postgres",
            hash="h1",
            status="applied",
            outputs={"host": "db.internal", "port": 5432},
            secret_digests={"password": secret_digest("pw", b"k" * 32)},
            dependencies=("net",),
        ),
    )
    item = InventoryItem(
        apiVersion="apps/v1", kind="Deployment", name="api", namespace="shop", component="api", hash="h2"
    )
    # The records `appc status` shows (issue 13) round-trip through every store, read strictly.
    probe = UnitProbe(at="2026-01-01T00:00:00.000000Z", mode="strict", verdict="missing", detail="x not found")
    drift = DriftCheck(at="2026-01-01T00:00:00.000000Z", drift=True, checked=("db",), drifted={"db": 2})
    records = {"probes": {"db": probe}, "drift_check": drift}
    return doc.model_copy(update={"inventory": {"prod-eu": (item,)}, **records}).with_revision(
        Revision(serial=1, at="2026-01-01T00:00:00.000000Z", command="apply", changed=("db",))
    )


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


# --- documents ---------------------------------------------------------------------------


def test_read_of_an_empty_store_is_none(backend):
    assert backend.store().read() is None


def test_write_increments_the_serial_and_round_trips(backend):
    store = backend.store()
    doc = rich_doc()
    first = store.write(doc)
    assert first.serial == 1 and first.lineage == doc.lineage
    assert store.read() == first
    assert backend.store().read() == first  # a second instance, as another process would
    second = store.write(first.with_unit("db", None))
    assert second.serial == 2
    assert backend.store().read() == second
    assert json.loads(backend.get_raw())["serial"] == 2


def test_write_with_a_stale_serial_is_refused(backend):
    store = backend.store()
    first = store.write(new_state(APP, ENV))
    second = store.write(first)
    before = backend.get_raw()
    with pytest.raises(DiagnosticError, match="changed since it was read"):
        store.write(first)  # serial 1, but the stored document is at 2
    assert backend.get_raw() == before
    assert store.read() == second


def test_write_with_another_lineage_is_refused(backend):
    store = backend.store()
    store.write(new_state(APP, ENV))
    before = backend.get_raw()
    intruder = new_state(APP, ENV).model_copy(update={"serial": 1})
    with pytest.raises(DiagnosticError, match="another lineage"):
        store.write(intruder)
    assert backend.get_raw() == before


def test_write_after_the_state_vanished_is_refused(backend):
    doc = new_state(APP, ENV).model_copy(update={"serial": 3})
    with pytest.raises(DiagnosticError, match="disappeared"):
        backend.store().write(doc)
    assert backend.get_raw() is None


def test_write_of_another_apps_document_is_refused(backend):
    with pytest.raises(DiagnosticError, match="another app"):
        backend.store().write(new_state("other", ENV))
    assert backend.get_raw() is None


MARKER = "do-not-echo-7f3a"
_valid = json.loads(json.dumps(rich_doc().model_dump(mode="json", by_alias=True)))
REFUSED = {
    "not-json": (b'{"app": "' + MARKER.encode() + b'", ', "state file is corrupt"),
    "not-utf8": (b"\xff\xfe" + MARKER.encode(), "state file is corrupt"),
    "not-an-object": (json.dumps([MARKER]).encode(), "state file is corrupt"),
    "unknown-format": (json.dumps({**_valid, "format": 99, "lineage": MARKER}).encode(), "unknown format 99"),
    "schema": (json.dumps({**_valid, "serial": MARKER}).encode(), "state file is corrupt"),
    "unknown-field": (json.dumps({**_valid, "secret": MARKER}).encode(), "state file is corrupt"),
    "foreign-app": (json.dumps({**_valid, "app": "billing", "lineage": MARKER}).encode(), "belongs to app 'billing'"),
    "foreign-env": (json.dumps({**_valid, "environment": "prod", "lineage": MARKER}).encode(), "environment 'prod'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_corrupt_or_foreign_documents_are_refused_and_left_byte_identical(backend, case):
    data, summary = REFUSED[case]
    backend.put_raw(data)
    store = backend.store()
    with pytest.raises(DiagnosticError) as read_error:
        store.read()
    assert summary in read_error.value.diagnostics[0].summary
    assert read_error.value.diagnostics[0].file == store.location
    assert read_error.value.diagnostics[0].detail  # says what to do
    assert MARKER not in str(read_error.value)
    with pytest.raises(DiagnosticError):
        store.write(new_state(APP, ENV))
    assert backend.get_raw() == data


def test_a_document_never_contains_a_secret(backend):
    secret = "s3cr3t-hunter2-value"
    unit = UnitState(
        kind="terraform",
        type="postgres",
        hash="h",
        status="applied",
        outputs={"host": "db"},
        secret_digests={"password": secret_digest(secret, b"k" * 32)},
    )
    backend.store().write(new_state(APP, ENV).with_unit("db", unit))
    raw = backend.get_raw()
    assert secret.encode() not in raw
    assert secret_digest(secret, b"k" * 32).encode() in raw


def test_every_document_is_signed_and_a_foreign_edit_is_refused(backend):
    store = backend.store()
    store.write(rich_doc())
    raw = backend.get_raw()
    assert b'"signature": "hmac-sha256:' in raw
    assert store.signing_key() == backend.store().signing_key()  # one key per state, found again by a new store
    edited = json.loads(raw)
    edited["units"]["db"]["hash"] = "h-forged"
    backend.put_raw(json.dumps(edited).encode())
    for action in (lambda s: s.read(), lambda s: s.write(rich_doc().model_copy(update={"serial": 1}))):
        with pytest.raises(DiagnosticError) as error:
            action(backend.store())
        assert "modified outside appc" in error.value.diagnostics[0].summary
        assert error.value.diagnostics[0].file == store.location
    assert json.loads(backend.get_raw())["units"]["db"]["hash"] == "h-forged"  # refused, not overwritten


def test_an_unsigned_document_from_before_signing_is_read_with_a_warning_and_signed_at_the_next_write(backend):
    legacy = rich_doc().model_dump(mode="json", by_alias=True)
    backend.put_raw(json.dumps(legacy).encode())
    doc = backend.store().read()
    assert doc.units["db"].hash == "h1" and any("not signed yet" in w for w in backend.warnings)
    backend.store().write(doc)
    assert b'"signature"' in backend.get_raw()


# --- locks -------------------------------------------------------------------------------


def test_lock_held_names_the_holder(backend):
    mine = new_lock_info("apply")
    store, other = backend.store(), backend.store()
    assert store.current() is None
    assert store.lock(mine) == mine
    assert other.current() == mine
    with pytest.raises(LockHeld) as held:
        other.lock(new_lock_info("destroy"))
    assert held.value.info == mine
    assert mine.id in str(held.value) and mine.holder in str(held.value)
    store.unlock(mine)
    assert other.current() is None
    assert backend.warnings == []


def test_a_second_lock_with_a_timeout_waits_for_the_unlock(backend):
    first, second = new_lock_info("apply"), new_lock_info("apply")
    store, other = backend.store(), backend.store()
    store.lock(first)
    releaser = threading.Timer(0.3, store.unlock, args=(first,))
    releaser.start()
    started = time.monotonic()
    try:
        assert other.lock(second, timeout=10) == second
    finally:
        releaser.join()
    assert time.monotonic() - started >= 0.25
    assert store.current() == second


def test_a_lock_timeout_expires_with_lock_held(backend):
    first = new_lock_info("apply")
    backend.store().lock(first)
    started = time.monotonic()
    with pytest.raises(LockHeld) as held:
        backend.store().lock(new_lock_info("apply"), timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 3
    assert held.value.info == first


def test_unlock_of_someone_elses_lock_does_nothing(backend):
    theirs = new_lock_info("apply")
    store = backend.store()
    store.lock(theirs)
    store.unlock(new_lock_info("apply"))
    assert store.current() == theirs
    assert any("held by" in w for w in backend.warnings)


def test_force_unlock_needs_the_right_id(backend):
    theirs = new_lock_info("apply")
    store = backend.store()
    assert store.force_unlock() is None  # nothing to remove
    store.lock(theirs)
    with pytest.raises(DiagnosticError) as wrong:
        store.force_unlock("not-the-id")
    assert theirs.id in str(wrong.value)
    assert store.current() == theirs
    assert store.force_unlock(theirs.id) == theirs
    assert store.current() is None
    mine = new_lock_info("apply")
    assert store.lock(mine) == mine


def test_an_unreadable_lock_is_held_by_an_unknown_holder(backend):
    backend.put_raw_lock(b"{ garbage")
    store = backend.store()
    with pytest.raises(LockHeld) as held:
        store.lock(new_lock_info("apply"))
    assert held.value.info is None
    with pytest.raises(DiagnosticError, match="unreadable"):
        store.current()
    with pytest.raises(DiagnosticError, match="without a lock id"):
        store.force_unlock("some-id")
    store.unlock(new_lock_info("apply"))  # not ours: left alone
    with pytest.raises(LockHeld):
        store.lock(new_lock_info("apply"))
    assert store.force_unlock() is None
    assert store.current() is None
    store.lock(new_lock_info("apply"))


def test_a_stale_lock_of_a_dead_pid_on_this_host_is_taken_over(backend):
    stale = replace(new_lock_info("apply"), pid=dead_pid())
    store = backend.store()
    store.lock(stale)
    mine = new_lock_info("apply")
    assert store.lock(mine) == mine
    assert store.current() == mine
    assert len(backend.warnings) == 1
    assert "took over a stale lock" in backend.warnings[0]
    assert f"pid {stale.pid} is gone" in backend.warnings[0]


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(lambda info: replace(info, host="elsewhere", pid=dead_pid()), id="other-host"),
        pytest.param(lambda info: info, id="live-pid"),
    ],
)
def test_a_lock_not_provably_stale_is_not_taken_over(backend, holder: Callable[[LockInfo], LockInfo]):
    theirs = holder(new_lock_info("apply"))
    store = backend.store()
    store.lock(theirs)
    with pytest.raises(LockHeld):
        store.lock(new_lock_info("apply"))
    assert store.current() == theirs
    assert backend.warnings == []


def test_concurrent_writers_taking_turns_lose_nothing(backend):
    backend.store().write(new_state(APP, ENV))  # serial 1
    errors: list[BaseException] = []

    def take(store) -> LockInfo:
        # Retry faster than lock(timeout=...) polls (0.2 s), to keep the test short.
        deadline = time.monotonic() + 30
        while True:
            try:
                return store.lock(new_lock_info("apply"))
            except LockHeld:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def writer(name: str) -> None:
        store = backend.store()  # its own instance and client, like another process
        try:
            for i in range(25):
                info = take(store)
                try:
                    doc = store.read()
                    doc = doc.with_revision(Revision(serial=doc.serial + 1, at="now", command=f"{name}-{i}"))
                    store.write(doc)
                finally:
                    store.unlock(info)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    final = backend.store().read()
    assert final.serial == 51
    assert len(final.revisions) == 50
    assert sorted(r.command for r in final.revisions) == sorted(f"{n}-{i}" for n in "ab" for i in range(25))
    assert backend.store().current() is None
    assert backend.warnings == []


# --- store-specific edges ---------------------------------------------------------------


def test_local_store_leaves_only_its_files(tmp_path):
    store = LocalStore(tmp_path / ".composer", APP, ENV)
    info = store.lock(new_lock_info("apply"))
    assert sorted(p.name for p in (tmp_path / ".composer").iterdir()) == [f"{ENV}.lock"]
    store.write(new_state(APP, ENV))
    store.unlock(info)
    assert sorted(p.name for p in (tmp_path / ".composer").iterdir()) == [f"{ENV}.key", f"{ENV}.state.json"]
    assert (tmp_path / ".composer" / f"{ENV}.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".composer" / f"{ENV}.state.json").read_bytes().endswith(b"}\n")


def test_local_lock_file_holds_the_lock_record(tmp_path):
    store = LocalStore(tmp_path, APP, ENV)
    info = store.lock(new_lock_info("apply"))
    assert (tmp_path / f"{ENV}.lock").read_bytes() == encode_lock(info)
    assert info.host == socket.gethostname()


@pytest.mark.parametrize("lock_kind", ["dynamodb", "conditional"])
def test_s3_missing_bucket_says_to_run_appc_init(moto, lock_kind):
    store = S3Store("no-such-bucket", KEY, APP, ENV, lock=lock_kind)
    for action in (store.read, lambda: store.write(new_state(APP, ENV)), lambda: store.lock(new_lock_info("apply"))):
        with pytest.raises(DiagnosticError) as error:
            action()
        assert "appc init -e dev" in str(error.value)


def test_s3_missing_lock_table_says_to_run_appc_init(moto):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    store = S3Store(BUCKET, KEY, APP, ENV, lock="dynamodb", table="no-such-table")
    with pytest.raises(DiagnosticError) as error:
        store.lock(new_lock_info("apply"))
    assert "lock table 'no-such-table' does not exist" in str(error.value)
    assert "appc init -e dev" in str(error.value)


def test_s3_without_credentials_is_a_diagnostic(moto, monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DiagnosticError, match="no AWS credentials"):
        S3Store(BUCKET, KEY, APP, ENV).read()
