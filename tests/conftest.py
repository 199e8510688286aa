"""Fixtures shared by the whole suite live in tests/fixtures/; each area keeps its own conftest.

In CI (``CI`` set) a skipped test fails the run (``tests/fixtures/ci.py``).
"""

pytest_plugins = ["tests.fixtures.ci", "tests.fixtures.warehouses"]
