"""dbt's manifest for the warehouse session, taken from the ``manifest.json`` dbt already wrote.

What the warehouse session needs from dbt's manifest is the macros (the
``dbt_sync`` package's, the adapter's, dbt's own and any override in the
project or its packages, which ``adapter.dispatch`` searches) and, for the
capture of a model built without the post-hook, the model nodes of the
``graph`` context variable. ``manifest.json`` holds both, so instead of
parsing the project again (dbt's ``ManifestLoader``: every model, test and
yml file, or the partial-parse state of all of them) the session builds a
manifest of the macros, with the nodes as ``graph`` serves them (plain
dicts, as dbt's ``Manifest.build_flat_graph`` writes them and
``manifest.json`` stores them).

It does so only where the result is what a parse would give
(:func:`manifest_from_artifacts` says why not otherwise, and the caller
parses):

- ``manifest.json`` was written by the installed dbt-core version, for the
  same adapter type and project;
- every macro file of the project, its installed packages, dbt's global
  project and the adapter (the folders dbt reads macros from: each
  project's ``macro-paths`` and ``<test-paths>/generic``) holds exactly the
  macros ``manifest.json`` records for it, with the same text, and no such
  file is missing or new; so an override added, edited or removed since
  dbt wrote the manifest makes the session parse;
- ``--vars`` are those of the dbt invocation that wrote the manifest (vars
  can change a model's database, schema or alias);
- no model file, properties file or ``dbt_project.yml`` changed after it
  (the stale-manifest rule of :func:`dbt_sync.project.stale_manifest`).

Project settings dbt reads at run time are not in the manifest and are
read as dbt reads them either way: ``vars:``, ``dispatch:`` (a project's
own search order for ``dbt_sync`` macros), ``flags:``, ``query-comment``,
the profile. ``DBT_SYNC_REPARSE=true`` always parses the project.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: environment variable: true makes every warehouse session parse the project (dbt's ManifestLoader)
REPARSE_ENV = "DBT_SYNC_REPARSE"

#: the start of a Jinja block dbt turns into a macro (``macro``, ``materialization``, ``test``)
_MACRO_BLOCK = re.compile(r"{%-?\s*(?:macro|materialization|test)\s")
_COMMENT = re.compile(r"{#.*?#}", re.DOTALL)


def _macro_blocks(text: str) -> int:
    """How many macro blocks a file's text opens, outside Jinja comments."""
    return len(_MACRO_BLOCK.findall(_COMMENT.sub("", text)))

#: manifest.json sections that become ``graph`` (dbt's Manifest.flat_graph)
_GRAPH_SECTIONS = (
    "exposures", "functions", "groups", "metrics", "nodes", "sources", "semantic_models", "saved_queries",
)


def reparse_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``DBT_SYNC_REPARSE`` asks to parse the project (``1``/``true``/``yes``/``on``, any case)."""
    value = (os.environ if environ is None else environ).get(REPARSE_ENV, "").strip().lower()
    return value in {"1", "true", "t", "yes", "y", "on"}


def manifest_from_artifacts(
    config: Any,
    manifest_path: Path,
    cli_vars: Mapping[str, Any] | None,
) -> tuple[Any | None, str]:
    """dbt's ``Manifest`` for the warehouse session from ``manifest_path``, or None and why not.

    ``config`` is the session's ``RuntimeConfig``; ``cli_vars`` the ``--vars``
    given to dbt-sync. Returns ``(manifest, "")`` with the manifest's macros
    and its ``flat_graph`` (``graph``) set, and no parsed nodes; or
    ``(None, reason)`` when the manifest is absent, unreadable or not what a
    parse of the project would give (see the module's rules). Never raises
    for a problem of the artifacts: the caller then parses the project, as
    dbt would.
    """
    import dbt.version

    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"{manifest_path}: cannot be read ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("macros"), dict):
        return None, f"{manifest_path}: no macros"
    metadata = data.get("metadata") or {}
    installed = dbt.version.__version__
    if metadata.get("dbt_version") != installed:
        return None, f"{manifest_path}: written by dbt-core {metadata.get('dbt_version')}, this is {installed}"
    adapter_type = config.credentials.type
    if metadata.get("adapter_type") != adapter_type:
        written_for = metadata.get("adapter_type")
        return None, f"{manifest_path}: written for adapter {written_for}, the profile's is {adapter_type}"
    if metadata.get("project_name") != config.project_name:
        return None, f"{manifest_path}: written for project {metadata.get('project_name')}, not {config.project_name}"
    why = _vars_differ(manifest_path, metadata, cli_vars)
    if why:
        return None, why
    why = _macros_differ(config, data["macros"])
    if why:
        return None, why
    why = _project_changed(manifest_path, data, Path(config.project_root))
    if why:
        return None, why
    return _build(data), ""


def _vars_differ(manifest_path: Path, metadata: Mapping[str, Any], cli_vars: Mapping[str, Any] | None) -> str:
    """Why the ``--vars`` may not be those the manifest was written with; "" when they are."""
    given = dict(cli_vars or {})
    results_path = manifest_path.with_name("run_results.json")
    recorded: Any = None
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = None
    if isinstance(results, dict) and (results.get("metadata") or {}).get("invocation_id") == metadata.get(
        "invocation_id"
    ):
        recorded = (results.get("args") or {}).get("vars")
        recorded = recorded if isinstance(recorded, dict) else ({} if recorded in (None, "", "{}") else None)
    if recorded is None:
        if given:
            return f"--vars given and {manifest_path} does not record the vars it was written with"
        return ""
    if recorded != given:
        return f"--vars {given} differ from the vars {recorded} of the dbt invocation that wrote {manifest_path}"
    return ""


def _macro_files(project: Any) -> Iterator[str]:
    """The ``.sql`` files dbt reads macros from in ``project``, relative to its root, as dbt spells them."""
    root = Path(project.project_root)
    folders = [*project.macro_paths, *(os.path.join(p, "generic") for p in project.test_paths)]
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(base, followlinks=True):
            for name in files:
                if name.endswith(".sql"):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def _macros_differ(config: Any, macros: Mapping[str, Any]) -> str:
    """Why the macro files on disk may not hold the manifest's macros; "" when they hold exactly them."""
    recorded: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for macro in macros.values():
        if not isinstance(macro, dict):
            return "a macro of manifest.json is not an object"
        recorded[str(macro.get("package_name"))][str(macro.get("original_file_path"))].append(
            str(macro.get("macro_sql") or "")
        )
    try:
        projects = config.load_dependencies()
    except Exception as exc:  # uninstalled packages and the like: the parse says it as dbt does
        return f"the project's packages cannot be loaded ({type(exc).__name__})"
    unknown = set(recorded) - set(projects)
    if unknown:
        return f"manifest.json has macros of packages not installed here: {', '.join(sorted(unknown))}"
    for name, project in projects.items():
        files = recorded.get(name, {})
        root = Path(project.project_root)
        on_disk = set(_macro_files(project))
        for rel in on_disk - set(files):
            text = _read(root / rel)
            if text is None or _macro_blocks(text):
                return f"{root / rel}: macros not in manifest.json"
        for rel, texts in files.items():
            text = _read(root / rel)
            if text is None:
                return f"{root / rel}: in manifest.json but not readable here"
            if _macro_blocks(text) != len(texts) or any(t not in text for t in texts):
                return f"{root / rel}: changed since manifest.json was written"
    return ""


def _project_changed(manifest_path: Path, data: Mapping[str, Any], project_dir: Path) -> str:
    """Why the models may have changed since the manifest was written (a newer model, yml or dbt_project.yml)."""
    try:
        written = manifest_path.stat().st_mtime
    except OSError as exc:
        return f"{manifest_path}: {exc.strerror}"
    project_name = (data.get("metadata") or {}).get("project_name")
    candidates = {project_dir / "dbt_project.yml"}
    for node in (data.get("nodes") or {}).values():
        if not isinstance(node, dict) or node.get("package_name") != project_name:
            continue
        for rel in (node.get("original_file_path"), str(node.get("patch_path") or "").split("://", 1)[-1]):
            if rel:
                candidates.add(project_dir / rel)
    for path in candidates:
        try:
            if path.stat().st_mtime > written:
                return f"{path}: changed after {manifest_path} was written"
        except OSError:
            continue
    return ""


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _build(data: Mapping[str, Any]) -> Any:
    """A dbt ``Manifest`` holding the macros of ``data`` and its ``graph`` sections as plain dicts."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.contracts.graph.nodes import Macro

    manifest = Manifest(macros={uid: Macro.from_dict(m) for uid, m in data["macros"].items()})
    manifest.flat_graph = {section: dict(data.get(section) or {}) for section in _GRAPH_SECTIONS}
    return manifest
