"""The S3 state store: the document at s3://<bucket>/<key>, locked in DynamoDB or by a conditional put.

Writes are conditional puts: `IfMatch` with the ETag of the document just read and
checked (`IfNoneMatch="*"` for the first write). The lock already serialises writers; the
condition also makes a writer that bypassed the lock fail (412) instead of overwriting,
since S3 checks the condition and replaces the object in one step. A PutObject is atomic,
so a reader sees the old or the new document.

Locks (one record per state object):
- `dynamodb`: the item `LockID = "<bucket>/<key>"` in a table whose hash key is `LockID`
  (string), with the attribute `Info` holding the LockInfo JSON; created with
  `attribute_not_exists(LockID)`, replaced or deleted only while `Info` is what was read.
- `conditional`: the object `<key>.lock`, created with `IfNoneMatch="*"`, replaced and
  deleted with `IfMatch` = the ETag that was read.

The clients come from the default boto3 session: credentials, region and endpoint
(`AWS_ENDPOINT_URL`) come from the environment as for every AWS tool, so this module has
no test switches. Every botocore error is translated here, at the edge, into a
DiagnosticError that says what to do; no traceback, no credentials, no document contents.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from composer.diagnostics import DiagnosticError
from composer.state import keys
from composer.state.model import StateDoc
from composer.state.protocol import (
    CellLock,
    LockInfo,
    StoreOptions,
    check_write,
    decode_state,
    encode_state,
    refused,
)

LockKind = Literal["dynamodb", "conditional"]

_CREDENTIALS_REJECTED = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "TokenRefreshRequired",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "403"}
_WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "301"}
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"}


_loader: botocore.loaders.Loader | None = None
_loader_lock = threading.Lock()


def _shared_loader() -> botocore.loaders.Loader:
    """Parsing the S3 API model costs ~0.2 s per session; the models never change, so load them once."""
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        return _loader


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


class S3Store:
    def __init__(
        self,
        bucket: str,
        key: str,
        app: str,
        environment: str,
        lock: LockKind = "conditional",
        table: str | None = None,
        region: str | None = None,
        options: StoreOptions | None = None,
    ) -> None:
        if lock not in ("dynamodb", "conditional"):
            raise ValueError(f"unknown S3 lock kind {lock!r}")
        self.bucket = bucket
        self.key = key
        self.app = app
        self.environment = environment
        self.lock_kind = lock
        self.table = (table or f"{bucket}-lock") if lock == "dynamodb" else None
        self.region = region
        self.options = options or StoreOptions()
        self.location = f"s3://{bucket}/{key}"
        self.key_object = f"{key}.signing-key"
        self._key: bytes | None = None
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        cell = _DynamoCell(self) if lock == "dynamodb" else _ObjectCell(self, f"{key}.lock")
        self._lock = CellLock(cell, environment, self.options)

    # --- document -------------------------------------------------------------------

    def read(self) -> StateDoc | None:
        got = self._get(self.key)
        return self._decode(got[0]) if got else None

    def _decode(self, data: bytes) -> StateDoc:
        return decode_state(
            data,
            self.location,
            self.app,
            self.environment,
            self._read_key(),
            f"s3://{self.bucket}/{self.key_object}",
            self.options.on_warning,
        )

    def write(self, doc: StateDoc) -> StateDoc:
        got = self._get(self.key)
        stored = self._decode(got[0]) if got else None
        check_write(stored, doc, self.location, self.app, self.environment)
        new = doc.model_copy(update={"serial": doc.serial + 1})
        condition = {"IfMatch": got[1]} if got else {"IfNoneMatch": "*"}
        if not self._put(self.key, encode_state(new, self.signing_key()), **condition):
            raise refused(
                self.location,
                "state changed while it was being written",
                "Another writer replaced the state object between this run's read and its write "
                "(was the lock bypassed?). Nothing was written; run the command again.",
            )
        return new

    # --- key ------------------------------------------------------------------------

    def signing_key(self) -> bytes:
        """The state key: its own object beside the state (`<key>.signing-key`), created once
        with a conditional put, so two first writers agree on one key."""
        key = self._read_key()
        if key is None:
            self._put(
                self.key_object, keys.encode_key(keys.new_key()), IfNoneMatch="*"
            )  # False: another writer's key stands
            key = self._read_key()
        if key is None:
            raise refused(
                f"s3://{self.bucket}/{self.key_object}",
                "cannot create the state key",
                "The object vanished right after it was written; run the command again.",
            )
        return key

    def _read_key(self) -> bytes | None:
        if self._key is None:
            got = self._get(self.key_object)
            if got is None:
                return None
            try:
                self._key = keys.decode_key(got[0])
            except keys.BadKey as e:
                raise refused(
                    f"s3://{self.bucket}/{self.key_object}",
                    "the state key is unreadable",
                    f"{e}. Restore it from an earlier object version.",
                ) from None
        return self._key

    # --- lock -----------------------------------------------------------------------

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo:
        return self._lock.lock(info, timeout)

    def unlock(self, info: LockInfo) -> None:
        self._lock.unlock(info)

    def current(self) -> LockInfo | None:
        return self._lock.current()

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        return self._lock.force_unlock(lock_id)

    # --- S3 objects -----------------------------------------------------------------

    def _get(self, key: str) -> tuple[bytes, str] | None:
        with self._edge("GetObject", f"s3://{self.bucket}/{key}"):
            try:
                resp = self._client("s3").get_object(Bucket=self.bucket, Key=key)
            except ClientError as e:
                if _code(e) == "NoSuchKey":
                    return None
                raise
            return resp["Body"].read(), resp["ETag"]

    def _put(self, key: str, data: bytes, **condition: str) -> bool:
        """PutObject under a condition; False when the condition did not hold."""
        with self._edge("PutObject", f"s3://{self.bucket}/{key}"):
            try:
                self._client("s3").put_object(
                    Bucket=self.bucket, Key=key, Body=data, ContentType="application/json", **condition
                )
            except ClientError as e:
                if _code(e) in _LOST_RACE:
                    return False
                raise
        return True

    def _delete(self, key: str, etag: str) -> bool:
        with self._edge("DeleteObject", f"s3://{self.bucket}/{key}"):
            try:
                self._client("s3").delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
            except ClientError as e:
                if _code(e) in _LOST_RACE:
                    return False
                raise
        return True

    # --- the edge -------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._clients_lock:  # boto3 sessions are not thread-safe; clients are
            if service not in self._clients:
                if self._session is None:
                    # A session of our own reads credentials, region and endpoint from the
                    # environment now; only the static API models are shared in the process.
                    core = botocore.session.get_session()
                    core.register_component("data_loader", _shared_loader())
                    self._session = boto3.session.Session(botocore_session=core)
                self._clients[service] = self._session.client(service, region_name=self.region)
            return self._clients[service]

    @contextmanager
    def _edge(self, operation: str, where: str) -> Iterator[None]:
        try:
            yield
        except ClientError as e:
            raise self._client_error(e, operation, where) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise refused(
                where,
                "no AWS credentials found for the state store",
                "Set AWS_PROFILE (and run `aws sso login` if it uses SSO), or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, then run the command again.",
            ) from None
        except NoRegionError:
            raise refused(
                where,
                "no AWS region for the state store",
                f"Set state.region in environment {self.environment!r}, or AWS_REGION.",
            ) from None
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as e:
            raise refused(
                where,
                "cannot reach the state store",
                f"{operation} failed: {e}. Check the network, and AWS_ENDPOINT_URL if it is set.",
            ) from None
        except BotoCoreError as e:  # credential providers, SSO tokens, parameter validation
            raise refused(where, "the state store request failed", f"{operation} failed: {e}") from None

    def _client_error(self, e: ClientError, operation: str, where: str) -> DiagnosticError:
        code = _code(e)
        message = str(e.response.get("Error", {}).get("Message", "")) or "no message"
        init = f"Run `appc init -e {self.environment}` to create it"
        if code == "NoSuchBucket":
            return refused(
                where,
                f"the state bucket {self.bucket!r} does not exist",
                f"{init}, or correct state.bucket of environment {self.environment!r}.",
            )
        if code == "ResourceNotFoundException":
            return refused(
                where,
                f"the lock table {self.table!r} does not exist",
                f"{init}, or correct state.table of environment {self.environment!r}.",
            )
        if code in _CREDENTIALS_REJECTED:
            return refused(
                where,
                "AWS rejected the credentials of the state store",
                f"{operation}: {code}. Refresh the credentials (e.g. `aws sso login`) or check AWS_PROFILE.",
            )
        if code in _DENIED:
            return refused(
                where,
                "access to the state store was denied",
                f"{operation}: {code}: {message}. The identity needs s3:GetObject, s3:PutObject and "
                "s3:DeleteObject on the state objects"
                + (" and dynamodb:GetItem, PutItem and DeleteItem on the lock table." if self.table else "."),
            )
        if code in _WRONG_REGION:
            return refused(
                where,
                "the state bucket is in another region",
                f"{operation}: {code}. Set state.region of environment {self.environment!r} to the bucket's region.",
            )
        return refused(where, "the state store request failed", f"{operation}: {code}: {message}")


class _ObjectCell:
    """The `conditional` lock: an S3 object created and replaced with conditional puts."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.store = store
        self.key = key
        self.where = f"s3://{store.bucket}/{key}"

    def create(self, data: bytes) -> bool:
        return self.store._put(self.key, data, IfNoneMatch="*")

    def fetch(self) -> tuple[bytes, str] | None:
        return self.store._get(self.key)

    def replace(self, token: str, data: bytes) -> bool:
        return self.store._put(self.key, data, IfMatch=token)

    def delete(self, token: str) -> bool:
        return self.store._delete(self.key, token)


class _DynamoCell:
    """The `dynamodb` lock: one item per state object; the version token is its Info value."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.lock_id = f"{store.bucket}/{store.key}"
        self.where = f"dynamodb://{store.table}/{self.lock_id}"

    def _call(self, operation: str, **kwargs: Any) -> dict | None:
        """One DynamoDB call; None when its condition did not hold."""
        with self.store._edge(operation, self.where):
            client = self.store._client("dynamodb")
            method = {"PutItem": client.put_item, "GetItem": client.get_item, "DeleteItem": client.delete_item}[
                operation
            ]
            try:
                return method(TableName=self.store.table, **kwargs)
            except ClientError as e:
                if _code(e) == "ConditionalCheckFailedException":
                    return None
                raise

    def _item(self, data: bytes) -> dict:
        return {"LockID": {"S": self.lock_id}, "Info": {"S": data.decode()}}

    @staticmethod
    def _unchanged(token: dict | None) -> dict:
        if token is None:  # an item without Info (unreadable): it must still have none
            return {"ConditionExpression": "attribute_exists(LockID) AND attribute_not_exists(Info)"}
        return {"ConditionExpression": "Info = :seen", "ExpressionAttributeValues": {":seen": token}}

    def create(self, data: bytes) -> bool:
        return (
            self._call("PutItem", Item=self._item(data), ConditionExpression="attribute_not_exists(LockID)") is not None
        )

    def fetch(self) -> tuple[bytes, dict | None] | None:
        resp = self._call("GetItem", Key={"LockID": {"S": self.lock_id}}, ConsistentRead=True)
        item = (resp or {}).get("Item")
        if not item:
            return None
        info = item.get("Info")
        raw = info["S"].encode() if isinstance(info, dict) and "S" in info else b""
        return raw, info

    def replace(self, token: dict | None, data: bytes) -> bool:
        return self._call("PutItem", Item=self._item(data), **self._unchanged(token)) is not None

    def delete(self, token: dict | None) -> bool:
        return self._call("DeleteItem", Key={"LockID": {"S": self.lock_id}}, **self._unchanged(token)) is not None
