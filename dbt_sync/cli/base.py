"""The ``dbt-sync`` command group and the options its commands share."""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from dbt_sync.errors import EXIT_ERROR, DbtSyncError, classify, one_line, yaml_problem
from dbt_sync.secrets import RedactingFilter, RedactingFormatter, redact
from dbt_sync.version import __version__

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("dbt_sync")


def _parse_vars(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("expected a YAML mapping, e.g. '{key: value}'.")
    return parsed


def nearest_project_dir() -> Path:
    """The current directory or the nearest parent with a ``dbt_project.yml``, else the current directory.

    dbt's own default (``dbt.cli.resolvers.default_project_dir``), so dbt-sync
    works from any folder of the project as dbt does.
    """
    here = Path.cwd()
    return next((folder for folder in (here, *here.parents) if (folder / "dbt_project.yml").is_file()), here)


def project_options(func: F) -> F:
    """The dbt-style options every project command takes."""
    options = [
        click.option(
            "--project-dir",
            envvar="DBT_PROJECT_DIR",
            type=click.Path(file_okay=False, path_type=Path),
            default=nearest_project_dir,
            show_default="the current directory or the nearest parent holding dbt_project.yml, as dbt",
            help="The dbt project (where dbt_project.yml and dbt_sync.yml live).",
        ),
        click.option(
            "--profiles-dir",
            envvar="DBT_PROFILES_DIR",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Where profiles.yml is, as for dbt.",
        ),
        click.option("--target", "-t", envvar="DBT_TARGET", default=None, help="dbt target to use, as for dbt."),
        click.option("--vars", callback=_parse_vars, default=None, help="dbt vars as a YAML mapping."),
        click.option(
            "--config",
            "config_path",
            envvar="DBT_SYNC_CONFIG",
            default=None,
            help="Path to dbt_sync.yml (default: in the project directory).",
        ),
        click.option("--debug", is_flag=True, envvar="DBT_SYNC_DEBUG", help="Show tracebacks and debug logs."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class SelectorOption(click.Option):
    """A repeatable option that, as dbt's ``--select``, also takes the words that follow it.

    ``--select a b --exclude c`` is ``--select a --select b --exclude c``, as
    in dbt (whose ``MultiOption`` does the same; importing dbt's CLI just for
    it would cost every command several seconds). A word that starts with
    ``-`` ends the list.
    """

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            process = option.process

            def take_following(value: str, state: Any, process: Any = process) -> None:
                process(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    process(state.rargs.pop(0), state)

            option.process = take_following


def select_exclude_options(func: F) -> F:
    """``--select`` / ``--exclude`` in dbt's selector syntax, over syncs."""
    options = [
        click.option(
            "--select", "-s", cls=SelectorOption, multiple=True,
            help="Syncs to include (dbt selector syntax; several separated by spaces).",
        ),
        click.option(
            "--exclude", cls=SelectorOption, multiple=True,
            help="Syncs to leave out (dbt selector syntax; several separated by spaces).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def selected_names(project: Any, select: tuple[str, ...], exclude: tuple[str, ...]) -> set[str] | None:
    """The sync names ``--select`` / ``--exclude`` choose in ``project``; None when neither is given."""
    if not select and not exclude:
        return None
    from dbt_sync.plan import select_syncs

    return select_syncs(project.specs, project.manifest, select, exclude)


def selection_options(func: F) -> F:
    """``--select`` / ``--exclude`` and ``--all``, for the commands that plan (``plan``, ``run``)."""
    func = select_exclude_options(func)
    options = [
        click.option(
            "--all",
            "all_syncs",
            is_flag=True,
            help="Plan every enabled sync, not only those whose model the latest dbt invocation built.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def handle_errors(func: F) -> F:
    """Turn dbt-sync errors into one clear message and an exit code; no traceback unless --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        _setup_logging(debug)
        try:
            return func(*args, **kwargs)
        except DbtSyncError as exc:
            if debug:
                click.echo(redact(traceback.format_exc()), err=True)
            click.echo(redact(f"Error: {exc}"), err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # the reader of stdout went away (`dbt-sync status | head`): not an error
            stdout_gone()
            sys.exit(0)
        except Exception as exc:
            if debug:
                click.echo(redact(traceback.format_exc()), err=True)
            clear = classify(exc)
            if clear is not None:  # a configuration or environment problem raised below dbt-sync's own checks
                click.echo(redact(f"Error: {clear}"), err=True)
                sys.exit(clear.exit_code)
            click.echo(
                redact(
                    f"Internal error: {type(exc).__name__}: {one_line(str(exc))}. "
                    "Re-run with --debug for the traceback."
                ),
                err=True,
            )
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def stdout_gone() -> None:
    """Point stdout at /dev/null after its reader closed the pipe, so exiting does not fail again.

    What Python's documentation advises for SIGPIPE (library/signal.html, "Note on SIGPIPE").
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (click's test runner)
        pass
    finally:
        os.close(devnull)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (click's test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging(debug: bool) -> None:
    # Libraries dbt imports (snowplow_tracker) call logging.basicConfig() at import, which would give the
    # root logger a second stderr handler and print every dbt-sync warning twice; basicConfig does nothing
    # once the root logger has a handler, so give it one that discards (records still propagate: pytest's
    # caplog and an embedding application's own root handlers see them).
    top = logging.getLogger()
    if not top.handlers:
        top.addHandler(logging.NullHandler())
    else:
        for handler in list(top.handlers):
            if getattr(handler, "stream", None) is sys.stderr and type(handler) is logging.StreamHandler:
                top.removeHandler(handler)  # basicConfig's, added by an import before this point
    root = logging.getLogger("dbt_sync")
    if not root.handlers:
        handler = _StderrHandler()
        handler.addFilter(RedactingFilter())
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  dbt run && dbt-sync run                 build models, then push what changed
  dbt-sync validate --check-destinations  check every mapping against the CRMs
  dbt-sync plan --select +dim_contacts    show the ordered plan for contacts and upstream
  dbt-sync demo                           try it with DuckDB and local CRM emulators

\b
Exit codes: 0 all synced, 1 some records failed, 2 a sync failed or bad input,
3 a sync held by another run, 130 / 143 cancelled by SIGINT / SIGTERM.
""",
)
@click.version_option(__version__, prog_name="dbt-sync")
def main() -> None:
    """Reverse ETL inside dbt: push changed model rows to Salesforce and HubSpot."""

