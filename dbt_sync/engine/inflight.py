"""The in-flight record of create-mode batches: at most once, never twice.

A create cannot be repeated blindly: sending it again may make a duplicate.
Before a create batch is sent, its keys are written to ``dbt_sync_inflight``
(committed); once the batch's outcomes are committed, they are removed (keys
whose answer was unknown, a timeout, are written again). If the process dies
in between (``kill -9``, a lost warehouse), the keys stay, and the next run
settles them before anything else: with a match key it looks each record up
by it (found: its id is stored; not found: it is created); without one it
reports them as ``IN_DOUBT`` failures and does not send them until someone
checked the CRM and resolved it (``dbt-sync resolve``, i.e.
``SyncHandle.resolve_in_doubt``; or ran ``--full-refresh`` / ``dbt-sync
reset``, which forget the sync's history).

The rows live in the warehouse and are written through the sync's handle
(:class:`dbt_sync.warehouse.sync.SyncHandle`: ``mark_in_flight``,
``clear_in_flight``, ``left_in_flight``, ``key_state``,
``resolve_in_doubt``, ``forget_in_flight``); this module holds the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbt_sync.spec import SyncSpec

IN_DOUBT = "IN_DOUBT"


def applies(spec: SyncSpec) -> bool:
    """Creates that the destination cannot match on a resend: in doubt after a crash, one batch at a time."""
    return spec.mode == "create" and not spec.match


def tracks(spec: SyncSpec) -> bool:
    """Creates recorded in flight: a crash (or an unknown answer) leaves them for the next run to settle.

    With a match key the next run looks them up by it (found: adopted; not
    found: created); without one they are reported ``IN_DOUBT``.
    """
    return spec.mode == "create"


def in_doubt_message(sync_name: str, key: str, why: str | None = None) -> str:
    """What to do about a record in doubt; ``why`` replaces the default cause (a run that stopped)."""
    cause = why or "was being created by a run that stopped before recording the outcome"
    return (
        f"record {key} {cause}; it may or may not "
        f"exist in the CRM, so it was not sent again (that could duplicate it). Check the CRM, then run "
        f"`dbt-sync resolve {sync_name} {key} --destination-id <its id>` if it exists, or "
        f"`dbt-sync resolve {sync_name} {key}` to send it on the next run."
    )
