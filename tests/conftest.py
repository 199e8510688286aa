"""Fixtures shared by the whole suite live in tests/fixtures/; each area keeps its own conftest."""

pytest_plugins = ["tests.fixtures.warehouses"]
