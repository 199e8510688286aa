"""Fixtures shared by the whole suite live in tests/fixtures/; each area keeps its own conftest.

In CI (``CI`` set) a skipped test fails the run: every test here needs only
what the project's own scripts install, so a skip means something is missing.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.fixtures.warehouses"]

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("CI") and _skipped:
        terminalreporter.write_line(f"{len(_skipped)} test(s) skipped in CI, which fails the run:", red=True)
        for nodeid in _skipped:
            terminalreporter.write_line(f"  {nodeid}", red=True)
