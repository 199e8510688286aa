"""Which exceptions are a person's configuration or environment problem (one line, exit 2) and which are bugs.

The CLI's safety net (``dbt_sync.errors.classify``) for what reaches it
without a precise dbt-sync error; real exception classes from dbt, the
drivers and the destinations.
"""

from __future__ import annotations

import errno

import duckdb
import pytest
from dbt.adapters.exceptions.connection import FailedToConnectError
from dbt.exceptions import DbtProfileError, DbtProjectError, EnvVarMissingError
from dbt_common.exceptions import CompilationError, DbtDatabaseError
from hypothesis import given
from hypothesis import strategies as st

from dbt_sync.destinations.base import DestinationError, TransientError
from dbt_sync.errors import (
    FileError,
    ProfileError,
    ProjectError,
    UnreachableError,
    WarehouseError,
    classify,
    one_line,
)

CASES = [
    (DbtProfileError("The profile 'p' does not have a target named 'x'. The valid target names for this profile "
                     "are:\n - dev\n - prod"), ProfileError, "does not have a target named 'x'"),
    (EnvVarMissingError("WAREHOUSE_PASSWORD"), ProfileError, "'WAREHOUSE_PASSWORD'"),
    (DbtProjectError("Could not find profile named 'p'"), ProjectError, "Could not find profile named 'p'"),
    (FailedToConnectError("connection to server at \"db\", port 5432 failed: Connection refused\n\tIs the server "
                          "running?"), WarehouseError, "Connection refused Is the server running?"),
    (duckdb.IOException('IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held in x (PID 7)'),
     WarehouseError, "Conflicting lock is held in x (PID 7)"),
    (TransientError("destination 'sf': Salesforce login server https://login.salesforce.com unreachable",
                    code="LOGIN_UNREACHABLE"), UnreachableError, "https://login.salesforce.com"),
    (PermissionError(errno.EACCES, "Permission denied", "/p/target/dbt_sync_results.json"), FileError,
     "/p/target/dbt_sync_results.json: Permission denied"),
    (OSError(errno.ENOSPC, "No space left on device", "/p/target/x.json"), FileError, "No space left on device"),
    (CompilationError("dbt_sync: sync 'a' maps column(s) x that do not exist in t"), ProjectError, "maps column"),
]


@pytest.mark.parametrize(("exc", "kind", "text"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_configuration_and_environment_problems_are_classified(exc: Exception, kind: type, text: str) -> None:
    clear = classify(exc)
    assert isinstance(clear, kind)
    assert text in str(clear) and "\n" not in str(clear)


@pytest.mark.parametrize("exc", [
    ValueError("a bug"), KeyError("x"), DbtDatabaseError("syntax error at or near \"selec\""),
    CompilationError("'dict object' has no attribute 'x'"), TransientError("HTTP 503", code="HTTP_503"),
    OSError("no file involved"),
])
def test_bugs_and_outages_stay_internal(exc: Exception) -> None:
    assert classify(exc) is None


def test_destination_errors_are_said_as_they_are() -> None:
    clear = classify(DestinationError("destination 'hs': the access token was rejected", code="AUTH"))
    assert clear is not None and str(clear) == "destination 'hs': the access token was rejected"


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30), max_size=6))
def test_one_line_never_leaves_a_line_break(lines: list[str]) -> None:
    text = "\n".join(lines)
    flat = one_line(text)
    assert len(flat.splitlines()) <= 1  # no line break of any kind (\n, \r, \u2028, ...)
