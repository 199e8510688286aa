"""One value, one result, whatever the path: a property test over both Salesforce paths and HubSpot.

Each example sends the same rows through sObject Collections (``bulk_threshold``
0), through Bulk API 2.0 (``bulk_threshold`` 1) and to HubSpot, reads them back
with simple-salesforce and hubspot-api-client, and checks every stored value
against the documented conversion rule (``bench/fidelity_rules.py``). A value a
CRM cannot store must fail its record with the rule's code, the same code on
both Salesforce paths. ``DBT_SYNC_FIDELITY_EXAMPLES`` sets the number of
examples (default 40; docs/fidelity.md gives the long mode); ``DBT_SYNC_FIDELITY_NO_SHRINK=1``
reports a failing example without shrinking it.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

from hubspot import HubSpot
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from simple_salesforce import Salesforce

from bench import fidelity_rules as rules
from dbt_sync.destinations.base import Operation, Record
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.destinations.salesforce import SalesforceDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator
from dbt_sync_emulators.salesforce import SalesforceEmulator

from .support import FIELDS, HS_OBJECT, SF_OBJECT, define_hubspot, hs_name, hubspot_rows, salesforce_rows

EXAMPLES = int(os.environ.get("DBT_SYNC_FIDELITY_EXAMPLES", "40"))
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("DBT_SYNC_FIDELITY_NO_SHRINK") else list(Phase)

#: text that broke, or could break, a CSV, JSON or null marker
SPECIAL = [
    "\r", "\n", "\r\n", "\n\r", '"', '""', ",", ";", "'", "\\", "\t", " ", "  lead", "trail  ", "#N/A", " #N/A",
    "#n/a", "\ufeff", "\ufeffBOM", "😀", "👩‍💻", "שלום עולם", "مرحبا بالعالم", "\u202eRTL override", "\u2028",
    "\u0085", "\x00", "Zoë", "日本語", '"quoted, text"', "null", "None", "NaN", "=1+2", "<b>&amp;</b>",
]
CONTROL = [chr(c) for c in range(32)] + ["\x7f"]
piece = st.one_of(st.text(max_size=6), st.sampled_from(SPECIAL), st.sampled_from(CONTROL))
text = st.lists(piece, max_size=6).map("".join)
nullable_text = st.one_of(st.none(), st.just(""), text)
too_long = text.map(lambda t: "x" * 256 + t)  # over Text__c's 255 characters
# at Text__c's 255 around the limit: an emoji counts as two UTF-16 code units in Salesforce
near_limit = st.tuples(st.integers(250, 255), text).map(lambda nt: ("x" * nt[0] + nt[1] + "😀")[-256:])
emails = st.sampled_from(
    [None, "", "ann@example.com", "first.last+tag@sub.example.org", "O'Brien@example.ie", "not an email",
     " ann@example.com", "ann@example.com\r"]
)


def _decimals(limit: int) -> st.SearchStrategy[Any]:
    # at most 15 significant digits (a double holds any of them), so most rows are sent whole ...
    exact = st.integers(0, 8).flatmap(
        lambda places: st.decimals(
            min_value=-min(limit, 10 ** (15 - places)) + 1,
            max_value=min(limit, 10 ** (15 - places)) - 1,
            places=places,
            allow_nan=False,
        )
    )
    floats = st.floats(min_value=-limit, max_value=limit, allow_nan=False, allow_infinity=False)
    # ... and these are beyond the field: integer digits, or more digits than a double holds
    beyond = st.sampled_from([
        Decimal(10) ** 16, Decimal("-12345678901234567.5"), Decimal("230.7550"), Decimal("123456789012.123456")
    ])
    return st.one_of(st.none(), exact, floats, beyond)


zones = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
timestamps = st.one_of(
    st.none(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2199, 12, 31), timezones=zones),
    # around Salesforce's range (1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z) and far outside it
    st.datetimes(min_value=dt.datetime(1699, 12, 30), max_value=dt.datetime(1700, 1, 2), timezones=zones),
    st.datetimes(min_value=dt.datetime(4000, 12, 30), max_value=dt.datetime(4001, 1, 2), timezones=zones),
    st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9999, 12, 30)),
)

row_values = st.fixed_dictionaries({
    "Text__c": st.one_of(nullable_text, too_long, near_limit),
    "Long_Text__c": nullable_text,
    "Email__c": emails,
    "Amount__c": _decimals(10**13),
    "Big__c": _decimals(10**13),
    "Count__c": st.one_of(st.none(), st.integers(-(2 * 10**9), 2 * 10**9)),
    "Day__c": st.one_of(st.none(), st.dates(min_value=dt.date(1700, 1, 1), max_value=dt.date(4000, 12, 31)),
                        st.dates()),  # every date Python has: outside 1700-4000, Salesforce refuses it
    "Seen_At__c": timestamps,
    "Flag__c": st.one_of(st.none(), st.booleans()),
    "Tags__c": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.just(""), text), max_size=4)),
})
#: the values of issue 11's cases 1-5 in one row, always tried first
ISSUE_ROW: dict[str, Any] = {
    "Text__c": "Alpha\rBeta",
    "Long_Text__c": "#N/A",
    "Email__c": "",
    "Amount__c": Decimal("230.7550"),
    "Big__c": Decimal("123456789012.125"),  # the digits a double holds, beyond the scale
    "Count__c": 0,
    "Day__c": dt.date(2024, 2, 29),
    "Seen_At__c": dt.datetime(2024, 3, 31, 1, 30, 0, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30))),
    "Flag__c": None,
    "Tags__c": ["Alpha", None, "Beta", ""],
}
HS_TYPES = {hs_name(name): kw["type"] for name, _, kw in FIELDS}


@settings(max_examples=EXAMPLES, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])
@given(rows=st.lists(row_values, min_size=2, max_size=8))
@example(rows=[ISSUE_ROW, {**ISSUE_ROW, "Text__c": "#N/A", "Long_Text__c": "x\r\ny\r", "Tags__c": []}])
def test_one_value_one_result_on_every_path(
    sf_server: SalesforceEmulator,
    hs_server: HubSpotEmulator,
    sf_dest: SalesforceDestination,
    hs_dest: HubSpotDestination,
    sf_client: Salesforce,
    hs_client: HubSpot,
    rows: list[dict[str, Any]],
) -> None:
    # one column order for every row, as the engine sends them (a record with two bad values names the first)
    rows = [{name: row[name] for name, _, _ in FIELDS} for row in rows]
    sf_server.reset()
    hs_server.reset()
    define_hubspot(hs_server)
    outcomes = {}
    for path, threshold in (("C", 0), ("B", 1)):  # Collections, then Bulk API 2.0
        records = [Record(f"{path}{i}", {"External_Id__c": f"{path}{i}", **row}) for i, row in enumerate(rows)]
        outcomes[path] = sf_dest.write(SF_OBJECT, Operation.UPSERT, records, match="External_Id__c",
                                       options={"bulk_threshold": threshold})
    hs_records = [
        Record(f"H{i}", {"fidelity_key": f"H{i}", **{hs_name(k): v for k, v in row.items()}})
        for i, row in enumerate(rows)
    ]
    outcomes["H"] = hs_dest.write(HS_OBJECT, Operation.UPSERT, hs_records, match="fidelity_key", options={})
    describe = {f["name"]: f for f in sf_server.describe(SF_OBJECT)["fields"]}
    stored = salesforce_rows(sf_client, SF_OBJECT, list(rows[0]))
    stored_hs = hubspot_rows(hs_client, HS_OBJECT, list(HS_TYPES), "fidelity_key")

    for i, row in enumerate(rows):
        verdicts = {name: rules.salesforce(describe[name], value) for name, value in row.items()}
        codes = {code for code, _ in verdicts.values() if code}
        collections, bulk = outcomes["C"][i], outcomes["B"][i]
        assert (collections.success, collections.error_code) == (bulk.success, bulk.error_code), (row, collections,
                                                                                                  bulk)
        for path, outcome in (("C", collections), ("B", bulk)):
            key = f"{path}{i}"
            if codes:
                assert not outcome.success and outcome.error_code in codes, (row, outcome)
                assert key not in stored
                continue
            assert outcome.success, (row, outcome)
            for name, (_, expected) in verdicts.items():
                assert rules.same_salesforce(describe[name], stored[key][name], expected), (
                    path, name, row[name], stored[key][name], expected)

        hs_verdicts = {hs_name(name): rules.hubspot(HS_TYPES[hs_name(name)], value) for name, value in row.items()}
        hs_codes = {code for code, _ in hs_verdicts.values() if code}
        outcome = outcomes["H"][i]
        if hs_codes:
            assert not outcome.success and outcome.error_code in hs_codes, (row, outcome)
            continue
        assert outcome.success, (row, outcome)
        for prop, (_, expected) in hs_verdicts.items():
            assert rules.same_hubspot(HS_TYPES[prop], stored_hs[f"H{i}"].get(prop), expected), (
                prop, row, stored_hs[f"H{i}"].get(prop), expected)
