"""The ``dbt-sync`` command group, and how every command reports errors and logs.

The options the commands take are defined once, in :mod:`dbt_sync.cli.params`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import click

from dbt_sync.cli.params import LOGGING_NAMES
from dbt_sync.errors import EXIT_ERROR, DbtSyncError, classify, one_line
from dbt_sync.logs import JsonLines, JsonLogHandler
from dbt_sync.secrets import RedactingFilter, RedactingFormatter, redact, register_env
from dbt_sync.version import __version__

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("dbt_sync")


@dataclass
class Output:
    """How the running command writes logs (``--log-format``, ``--quiet``), set by :func:`handle_errors`.

    ``lines``: the JSON event lines (stderr) when the format is ``json``, else None.
    """

    log_format: str = "default"
    quiet: bool = False
    lines: JsonLines | None = None

    @property
    def json(self) -> bool:
        return self.log_format == "json"


#: the running command's output settings
output = Output()


def warn(text: str) -> None:
    """A warning for the person or the log reader: ``Warning: ...`` on stderr, a ``RunWarning`` JSON event
    in json format; nothing with --quiet."""
    if output.lines is not None:
        output.lines.emit("RunWarning", "warn", redact(text), {"warning": text})
    elif not output.quiet:
        click.echo(redact(f"Warning: {text}"), err=True)


def fail(text: str, exit_code: int, error_type: str) -> NoReturn:
    """End the command with ``text`` on stderr (a ``MainEncounteredError`` event in json format) and ``exit_code``."""
    if output.lines is not None:
        output.lines.emit(
            "MainEncounteredError", "error", redact(text), {"exit_code": exit_code, "error_type": error_type}
        )
    else:
        click.echo(redact(text), err=True)
    sys.exit(exit_code)


def selected_names(project: Any, select: tuple[str, ...], exclude: tuple[str, ...]) -> set[str] | None:
    """The sync names ``--select`` / ``--exclude`` choose in ``project``; None when neither is given."""
    if not select and not exclude:
        return None
    from dbt_sync.plan import select_syncs

    return select_syncs(project.specs, project.manifest, select, exclude)


def handle_errors(func: F) -> F:
    """Turn dbt-sync errors into one clear message and an exit code; no traceback unless --debug.

    Sets up logging from the logging options (:data:`dbt_sync.cli.params.LOGGING`) and consumes them:
    ``func`` receives one only when it names it as a parameter.
    """

    takes = set(inspect.signature(func).parameters)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        log_format = str(kwargs.get("log_format") or "default").lower()
        quiet = bool(kwargs.get("quiet"))
        register_env()  # dbt's DBT_ENV_SECRET* values are masked in everything the command prints
        for name in LOGGING_NAMES:  # the logging options are this wrapper's, unless the command names them
            if name not in takes:
                kwargs.pop(name, None)
        _setup_logging(debug, log_format, quiet)
        with masked_output():
            try:
                return func(*args, **kwargs)
            except DbtSyncError as exc:
                if debug:
                    _traceback()
                fail(f"Error: {exc}", exc.exit_code, type(exc).__name__)
            except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit, KeyboardInterrupt):
                raise
            except BrokenPipeError:  # the reader of stdout went away (`dbt-sync status | head`): not an error
                stdout_gone()
                sys.exit(0)
            except Exception as exc:
                if debug:
                    _traceback()
                clear = classify(exc)
                if clear is not None:  # a configuration or environment problem raised below dbt-sync's own checks
                    fail(f"Error: {clear}", clear.exit_code, type(clear).__name__)
                fail(
                    f"Internal error: {type(exc).__name__}: {one_line(str(exc))}. "
                    "Re-run with --debug for the traceback.",
                    EXIT_ERROR,
                    type(exc).__name__,
                )

    return wrapper  # type: ignore[return-value]


def _traceback() -> None:
    """The current exception's traceback (--debug): a debug-level ``LogMessage`` event in json format."""
    if output.lines is not None:
        output.lines.emit("LogMessage", "debug", redact(traceback.format_exc()), {"logger": "dbt_sync"})
    else:
        click.echo(redact(traceback.format_exc()), err=True)


class _MaskedStream:
    """A text stream that masks secrets (:func:`dbt_sync.secrets.redact`) in everything written to it.

    Each ``write`` is masked whole (``click.echo`` writes a message and its
    newline at once); bytes are refused with ``TypeError`` as a text stream
    does, and everything else (``encoding``, ``isatty``, ``fileno``, ``flush``)
    is the wrapped stream's.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._inner.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """Mask secrets in everything written to stdout and stderr while a command runs, as dbt scrubs every
    message: a line no code path thought to mask still goes through :func:`dbt_sync.secrets.redact`."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _MaskedStream(sys.stdout), _MaskedStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


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


#: log line layouts per --log-format (json has none: JsonLogHandler writes events)
_LAYOUTS = {
    "debug": ("%(asctime)s.%(msecs)03d [%(levelname)s] [%(threadName)s] %(name)s: %(message)s", "%H:%M:%S"),
}
_LAYOUT = ("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")


def _setup_logging(debug: bool, log_format: str = "default", quiet: bool = False) -> None:
    """Logging for this command: dbt-sync's records to stderr, as text lines or JSON events (json format);
    DEBUG with --debug, ERROR only with --quiet. Sets :data:`output`."""
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
    for old in list(root.handlers):  # this process's earlier command (tests run several) set its own
        if isinstance(old, (_StderrHandler, JsonLogHandler)):
            root.removeHandler(old)
    output.log_format, output.quiet = log_format, quiet
    output.lines = JsonLines(min_level="error" if quiet else ("debug" if debug else "info")) if log_format == "json" \
        else None
    new: logging.Handler
    if output.lines is not None:
        new = JsonLogHandler(output.lines)
    else:
        new = _StderrHandler()
        new.setFormatter(RedactingFormatter(*_LAYOUTS.get(log_format, _LAYOUT)))
    new.addFilter(RedactingFilter())
    root.addHandler(new)
    root.setLevel(logging.DEBUG if debug else (logging.ERROR if quiet else logging.INFO))


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  dbt run && dbt-sync run                 build models, then push what changed
  dbt-sync validate --check-destinations  check every mapping against the CRMs
  dbt-sync plan --select +dim_contacts    show the ordered plan for contacts and upstream
  dbt-sync demo                           try it with DuckDB and local CRM emulators

\b
Exit codes: 0 all synced, 1 some records failed (0 with run
--warn-on-record-failures), 2 a sync failed or bad input, 3 a sync held by
another run, 130 / 143 cancelled by SIGINT / SIGTERM (dbt-sync run --help
maps them to dbt's).
""",
)
@click.version_option(__version__, prog_name="dbt-sync")
def main() -> None:
    """Reverse ETL inside dbt: push changed model rows to Salesforce and HubSpot."""

