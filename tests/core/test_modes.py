"""One mode -> operation table: what validate checks permissions for is what a run sends."""

from __future__ import annotations

import pytest

from dbt_sync.engine.mapping import MODE_SENDS, MODE_WRITES, SETTLE_OPS, operation_for
from dbt_sync.spec import MODES

CHANGE_OPS = ("insert", "update", "delete", *sorted(SETTLE_OPS))


@pytest.mark.parametrize("mode", MODES)
def test_every_operation_a_mode_sends_is_in_its_table(mode: str) -> None:
    sent = {operation_for(mode, op) for op in CHANGE_OPS} - {None}
    assert sent == set(MODE_SENDS[mode])
    assert MODE_WRITES[mode] in sent


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        operation_for("merge", "insert")
