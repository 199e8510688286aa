"""End-to-end fixtures: a built integration_tests project plus both CRM emulators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dbt_sync import api, secrets
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import RunResult
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync_emulators.sandbox import Sandbox, running_sandbox
from tests.alerts.conftest import http_server, smtp_server, tls_cert  # noqa: F401 (real alert receivers)
from tests.fixtures.warehouses import DbtProject

#: fast retries so fault tests finish in seconds
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.2, budget_seconds=20)


@dataclass
class Stack:
    project: DbtProject
    sandbox: Sandbox

    def run(self, **kwargs: Any) -> RunResult:
        kwargs.setdefault("progress", Progress.silent())
        kwargs.setdefault("retry_policy", FAST_RETRY)
        with self.environ():
            return api.run(self.project.path, profiles_dir=self.project.path, **kwargs)

    @contextmanager
    def environ(self) -> Iterator[None]:
        with self.project.environ(self.sandbox.env()):
            yield

    def query(self, sql: str) -> list[dict[str, Any]]:
        with self.project.warehouse() as wh:
            return wh.query(sql.format(schema=wh.audit_schema))

    def dbt(self, *args: str) -> None:
        with self.environ():
            self.project.dbt(*args)


@contextmanager
def stack_for(project: DbtProject) -> Iterator[Stack]:
    secrets.clear()
    with running_sandbox() as sandbox:
        yield Stack(project, sandbox)
