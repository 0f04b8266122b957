"""Saved plan files on disk (`appc plan --out FILE`, `appc apply FILE`): the I/O half of
composer/engine/planfile.py, which makes and checks the signed document itself.

The file holds Terraform plans that may carry secret values: it is written 0600 with a random
temporary name and a rename, never through a link, and read only when it is a regular file
(no link, no FIFO to wait on), through composer/safefs.py.
"""

from __future__ import annotations

from pathlib import Path

from composer.engine.outcome import RunResult
from composer.engine.planfile import decode_plan, encode_plan, not_a_plan, plan_not_found
from composer.safefs import read_path, write_private
from composer.state.model import StateDoc


def write_plan(path: Path, compiled, state: StateDoc, result: RunResult, saved: dict[str, bytes], key: bytes) -> None:
    write_private(path, encode_plan(compiled, state, result, saved, key))


def read_plan(path: Path, compiled, state: StateDoc, key: bytes) -> dict[str, bytes]:
    """The Terraform plans to apply, per unit, after the signature and every staleness check passed."""
    try:
        data = read_path(path)
    except FileNotFoundError:
        raise plan_not_found(path) from None
    except OSError:
        raise not_a_plan(path) from None
    return decode_plan(path, data, compiled, state, key)
