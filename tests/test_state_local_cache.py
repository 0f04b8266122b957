"""The local store checks each write against the file as it is now (lineage, serial), also when
it skips decoding bytes it wrote itself (composer/state/local.py): a write by another process in
between is still refused, and the store's own writes in a row go through."""

from __future__ import annotations

import pytest

from composer.diagnostics import DiagnosticError
from composer.state.local import LocalStore
from composer.state.model import new_state


def test_a_write_by_another_process_in_between_is_still_refused(tmp_path):
    mine, theirs = LocalStore(tmp_path, "shop", "dev"), LocalStore(tmp_path, "shop", "dev")
    first = mine.write(new_state("shop", "dev"))
    second = mine.write(first)  # the store's own writes in a row
    assert second.serial == 2
    theirs.write(theirs.read())  # another process moves the serial on
    with pytest.raises(DiagnosticError, match="changed since it was read"):
        mine.write(second)
    assert mine.read().serial == 3
