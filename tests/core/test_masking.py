"""Masked column values are scrubbed from free text in every form a CRM may echo them."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync import masking, secrets
from dbt_sync.engine.mapping import failure_payload
from dbt_sync.engine.results import RunResult, SyncResult
from dbt_sync.spec import FieldMapping, PayloadPolicy, SyncSpec


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    secrets.clear()
    yield
    secrets.clear()


#: no '*': the mask itself next to a remaining character could spell a value again
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*\x00"), min_size=4, max_size=40
).filter(lambda v: len(v.strip()) >= 4)
filler = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*\x00"), max_size=30)

FORMS: list[Callable[[str], str]] = [
    lambda v: v,
    str.upper,
    str.lower,
    lambda v: json.dumps(v)[1:-1],
    lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    lambda v: json.dumps(json.dumps(v)[1:-1])[1:-1],
    lambda v: urllib.parse.quote(v, safe=""),
    lambda v: urllib.parse.quote_plus(v),
]


def _forms_in(value: str, text: str) -> list[str]:
    folded = masking.fold(text)
    return [f for f in (masking.variants(value)) if f in folded]


@settings(max_examples=150, deadline=None)
@given(value=values, before=filler, after=filler, form=st.sampled_from(range(len(FORMS))))
def test_scrub_removes_every_form(value: str, before: str, after: str, form: int) -> None:
    shown = FORMS[form](value)
    if masking.fold(shown) not in masking.variants(value) and masking.fold(shown) != masking.fold(value):
        return  # a case change that is not one-to-one (e.g. 'ß'.upper() == 'SS'): not a form we promise
    text = f"{before}Email address {shown} is invalid{after}"
    out = masking.scrub(text, [value])
    assert _forms_in(value, out) == []
    assert "is invalid" in out or "is invalid" not in text


@settings(max_examples=100, deadline=None)
@given(value=values, before=filler, form=st.sampled_from(range(len(FORMS))))
def test_registered_values_are_redacted_at_every_sink(value: str, before: str, form: int) -> None:
    secrets.clear()
    masking.register([value])
    shown = FORMS[form](value)
    if masking.fold(shown) not in masking.variants(value) and masking.fold(shown) != masking.fold(value):
        return
    text = f"{before} HTTP 400: {shown}"
    assert _forms_in(value, secrets.redact(text)) == []
    assert _forms_in(value, json.dumps(secrets.redact_obj({"a": [text]}))) == []


def test_short_values_are_not_searched_for() -> None:
    masking.register(["F", "abc"])
    assert secrets.redact("Fabc Fine") == "Fabc Fine"


def test_log_lines_and_results_json_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    masking.register(["Ada.Lovelace@Example.COM"])
    handler = logging.StreamHandler()
    handler.addFilter(secrets.RedactingFilter())
    logger = logging.getLogger("dbt_sync.test_masking")
    with caplog.at_level(logging.DEBUG, logger="dbt_sync.test_masking"):
        logger.addFilter(secrets.RedactingFilter())
        logger.debug("body: %s", json.dumps({"email": "ada.lovelace@example.com"}))
    assert "lovelace" not in caplog.text.lower() and "****" in caplog.text
    result = RunResult(run_id="r", started_at="now")
    sync = SyncResult(name="s", model="m", destination="d", object="o", mode="upsert")
    sync.count_error("INVALID_EMAIL", "Email address ADA.LOVELACE@EXAMPLE.COM is invalid")
    result.syncs.append(sync)
    assert "lovelace" not in json.dumps(result.to_dict()).lower()


def test_failure_payload_hides_a_masked_value_inside_other_columns() -> None:
    spec = SyncSpec(
        name="s", model_unique_id="model.p.m", model_name="m", location="models/m.yml", destination="hubspot",
        destination_type="hubspot", object="contacts", mode="upsert", primary_key=("id",), match="email",
        fields=(FieldMapping("email", column="email"),), failure_payload=PayloadPolicy(mask=("email",)),
    )
    payload = failure_payload(spec, {"email": "zoe@example.org", "note": "write to ZOE@example.org", "id": 7})
    assert payload == {"email": "****", "id": 7, "note": "write to ****"}


def test_destination_secrets_are_masked_with_the_one_mask() -> None:
    """A destination's unregistered secrets (live tokens) get the same mask as registered secrets and masked values."""
    from dbt_sync import masking, secrets

    text = secrets.redact_values("token tok-1234 and tok-12345 refused", ["tok-1234", "tok-12345", ""])
    assert text == f"token {secrets.MASK} and {secrets.MASK} refused"
    assert secrets.MASK == masking.MASK == "****"
