"""Every option of the ``dbt-sync`` commands, defined once (as dbt's ``dbt/cli/params.py``).

Each name here is a click decorator; a command lists the ones it takes::

    @main.command()
    @params.project
    @params.selection
    @params.threads
    @handle_errors
    def run(options: ProjectOptions, select, exclude, all_syncs, threads): ...

:func:`project` adds the options that say which project, profile, target
and target directory (``--project-dir``, ``--profiles-dir``, ``--profile``,
``--target``, ``--target-path``, ``--artifacts-dir``, ``--vars``, ``--config``) and hands the
command one :class:`~dbt_sync.project.ProjectOptions` as ``options``
instead; it also adds the logging options (:data:`LOGGING`, ``--debug``),
which :func:`dbt_sync.cli.base.handle_errors` consumes.

Flags, environment variables and their precedence are dbt's: a flag given
on the command line wins over its environment variable, which wins over
the project's setting (``target-path`` in ``dbt_project.yml``, ``profile``)
or the default.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from dbt_sync.errors import yaml_problem

F = TypeVar("F", bound=Callable[..., Any])


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


# --- where the project, profile and artifacts are ---------------------------------------------------------

project_dir = click.option(
    "--project-dir",
    envvar="DBT_PROJECT_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=nearest_project_dir,
    show_default="the current directory or the nearest parent holding dbt_project.yml, as dbt",
    help="The dbt project (where dbt_project.yml and dbt_sync.yml live).",
)

profiles_dir = click.option(
    "--profiles-dir",
    envvar="DBT_PROFILES_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where profiles.yml is, as for dbt.",
)

profile = click.option(
    "--profile",
    envvar="DBT_PROFILE",
    default=None,
    help="Which profile of profiles.yml to use; overrides `profile:` in dbt_project.yml, as for dbt.",
)

target = click.option("--target", "-t", envvar="DBT_TARGET", default=None, help="dbt target to use, as for dbt.")

target_path = click.option(
    "--target-path",
    envvar="DBT_TARGET_PATH",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="dbt's target directory: where manifest.json and run_results.json are read and dbt-sync writes its "
    "results and report. Overrides `target-path` in dbt_project.yml (default: target), as for dbt.",
)

artifacts_dir = click.option(
    "--artifacts-dir",
    envvar="DBT_SYNC_ARTIFACTS_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Read manifest.json and run_results.json from this folder instead of the target directory, e.g. the "
    "artifacts of a dbt Cloud job run, to follow a dbt job that ran elsewhere. dbt-sync writes nothing there "
    "(its results still go to the target directory). Also DBT_SYNC_ARTIFACTS_DIR.",
)

vars = click.option("--vars", callback=_parse_vars, default=None, help="dbt vars as a YAML mapping.")

config = click.option(
    "--config",
    "config_path",
    envvar="DBT_SYNC_CONFIG",
    default=None,
    help="Path to dbt_sync.yml (default: in the project directory).",
)

# --- logging (consumed by handle_errors) ------------------------------------------------------------------

debug = click.option(
    "--debug/--no-debug",
    "-d",
    envvar=["DBT_SYNC_DEBUG", "DBT_DEBUG"],
    default=False,
    help="Show tracebacks and debug logs (also DBT_DEBUG or DBT_SYNC_DEBUG).",
)

log_format = click.option(
    "--log-format",
    envvar="DBT_LOG_FORMAT",
    type=click.Choice(["text", "debug", "json", "default"], case_sensitive=False),
    default="default",
    show_default=True,
    help="How logs and progress are written, as dbt's: default (progress bars on a terminal), text (plain lines), "
    "debug (plain lines with microseconds and thread), json (one JSON event per line on stderr; see "
    "docs/logging.md). Also DBT_LOG_FORMAT.",
)

quiet = click.option(
    "--quiet/--no-quiet",
    "-q",
    envvar="DBT_QUIET",
    default=False,
    help="Only errors (and what --json asks for on stdout): no progress, summary, warnings or info logs, "
    "as dbt's --quiet. Also DBT_QUIET.",
)

#: the logging options every project command takes; ``handle_errors`` consumes them (a command whose
#: function names one of them as a parameter still receives it)
LOGGING: list[Callable[[F], F]] = [debug, log_format, quiet]
LOGGING_NAMES: tuple[str, ...] = ("debug", "log_format", "quiet")

#: the options :func:`project` turns into one ``ProjectOptions`` (parameter names as click passes them)
PROJECT_NAMES: tuple[str, ...] = (
    "project_dir", "profiles_dir", "profile", "target", "target_path", "artifacts_dir", "vars", "config_path",
)


def project(func: F) -> F:
    """The project options and the logging options; the command receives ``options: ProjectOptions``.

    The project options' values are resolved with
    :func:`dbt_sync.api.build_options` (flag, then environment variable, then
    the project's own setting).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from dbt_sync.api import build_options

        given = {name: kwargs.pop(name, None) for name in PROJECT_NAMES}
        kwargs["options"] = build_options(
            given["project_dir"] or nearest_project_dir(),
            profiles_dir=given["profiles_dir"],
            target=given["target"],
            vars=given["vars"],
            config_path=given["config_path"],
            profile=given["profile"],
            target_path=given["target_path"],
            artifacts_dir=given["artifacts_dir"],
        )
        return func(*args, **kwargs)

    decorated: Any = wrapper
    for option in reversed(
        [project_dir, profiles_dir, profile, target, target_path, artifacts_dir, vars, config, *LOGGING]
    ):
        decorated = option(decorated)
    return decorated


# --- which syncs ------------------------------------------------------------------------------------------

select = click.option(
    "--select", "-s", cls=SelectorOption, multiple=True,
    help="Syncs to include (dbt selector syntax; several separated by spaces).",
)

exclude = click.option(
    "--exclude", cls=SelectorOption, multiple=True,
    help="Syncs to leave out (dbt selector syntax; several separated by spaces).",
)

all_syncs = click.option(
    "--all",
    "all_syncs",
    is_flag=True,
    help="Plan every enabled sync, not only those whose model the latest dbt invocation built.",
)


def select_exclude(func: F) -> F:
    """``--select`` / ``--exclude`` in dbt's selector syntax, over syncs."""
    return select(exclude(func))


def selection(func: F) -> F:
    """``--select`` / ``--exclude`` and ``--all``, for the commands that plan (``plan``, ``run``)."""
    return select(exclude(all_syncs(func)))


# --- how a run runs ---------------------------------------------------------------------------------------

threads = click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Syncs run at once (default: the profile's)."
)

full_refresh = click.option(
    "--full-refresh",
    "-f",
    is_flag=True,
    envvar="DBT_FULL_REFRESH",
    help="Resend every row of the selected syncs (records keep their ids; mirror deletes still apply). "
    "Also DBT_FULL_REFRESH, as for dbt.",
)

warn_on_record_failures = click.option(
    "--warn-on-record-failures/--fail-on-record-failures",
    envvar="DBT_SYNC_WARN_ON_RECORD_FAILURES",
    default=False,
    help="Exit 0 when records failed but no sync failed as a whole: the failures are still printed, written "
    "to the results and recorded in dbt_sync_failures (for an orchestrator that should not fail the task "
    "on them). A sync that failed as a whole still exits 2. Also DBT_SYNC_WARN_ON_RECORD_FAILURES.",
)


def as_json(what: str) -> Callable[[F], F]:
    """``--json``: print ``what`` as JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON on stdout.")
