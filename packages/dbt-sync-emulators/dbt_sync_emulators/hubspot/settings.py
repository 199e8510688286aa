"""Knobs for behaviour the reference notes mark UNVERIFIED, plus limits.

Each default is the most faithful choice known; tests flip them to check that
dbt-sync copes with the other behaviour too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorSettings:
    """Per-emulator behaviour switches; change them on ``emu.settings`` at any time."""

    #: Object batch endpoints refuse more inputs than this with a whole-batch 400.
    max_batch_inputs: int = 100
    #: v4 association batch read limit (documented: 1,000 since 2025-02-10).
    max_association_read_inputs: int = 1000
    #: v4 association batch create/default/archive limit (UNVERIFIED; a connector documents 2,000).
    max_association_write_inputs: int = 2000
    #: Batch update/upsert without ``objectWriteTraceId``: True answers 207 with per-input
    #: errors keyed by ``context.ids`` (seen in real upsert replies); False fails the whole
    #: batch with 400 like batch create does. UNVERIFIED, hence the switch.
    partial_updates_without_trace_ids: bool = True
    #: v4 ``batch/create`` with an unknown from/to id: True → 207 with per-input errors,
    #: False → whole-batch 400. UNVERIFIED.
    association_partial_errors: bool = True
    #: v4 ``batch/create`` and ``associate/default`` report each link once (as the notes
    #: show); True adds the reverse direction as a second result. UNVERIFIED.
    association_results_both_directions: bool = False
    #: Send ``Retry-After`` (seconds) on the emulator's own 429s. HubSpot does not promise it.
    retry_after_on_429: bool = True
    #: Lifetime of OAuth access tokens issued by ``POST /oauth/v1/token``.
    token_expires_in: int = 1800
    #: Search endpoints: requests per second before a SECONDLY 429.
    search_rate_limit: int = 5
    #: Enforce fields the published request schemas mark required but HubSpot's own guide
    #: examples leave out: ``associations`` on each batch create input
    #: (``SimplePublicObjectBatchInputForCreate``) and ``propertiesWithHistory`` on batch read
    #: (``BatchReadInputSimplePublicObjectId``). UNVERIFIED whether HubSpot enforces them,
    #: hence off by default; the destination sends both, so it works either way.
    require_spec_request_fields: bool = False
    #: The portal (hub) id shown in messages.
    portal_id: int = 62515
