"""Bulk API 2.0 ingest through ``sf.bulk2`` and the raw job endpoints."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest
from simple_salesforce.exceptions import SalesforceOperationError

from dbt_sync_emulators.salesforce import SalesforceEmulator


def _jobs_url(emu: SalesforceEmulator) -> str:
    return f"{emu.instance_url}/services/data/v59.0/jobs/ingest"


def _auth(sf: Salesforce) -> dict[str, str]:
    return {"Authorization": f"Bearer {sf.session_id}"}


def test_upsert_full_cycle_with_failed_rows(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed("Contact", [{"LastName": "Existing", "External_Id__c": "E2", "FirstName": "Keep"}])
    records = [
        {"External_Id__c": "E1", "LastName": "New", "Email": "new@acme.example"},
        {"External_Id__c": "E2", "LastName": "Updated"},
        {"External_Id__c": "E3", "LastName": "", "Email": "bad-email"},
        {"External_Id__c": "E4", "LastName": "x" * 81},
    ]
    [result] = sf.bulk2.Contact.upsert(records=records, external_id_field="External_Id__c", wait=0)
    assert result["numberRecordsProcessed"] == 4 and result["numberRecordsFailed"] == 2
    assert result["numberRecordsTotal"] == 4 and result["job_id"].startswith("750")

    out = sf.bulk2.Contact.get_all_ingest_records(result["job_id"])
    ok = {r["External_Id__c"]: r for r in out["successfulRecords"]}
    assert ok["E1"]["sf__Created"] == "true" and ok["E2"]["sf__Created"] == "false"
    assert ok["E1"]["sf__Id"].startswith("003")
    failed = {r["External_Id__c"]: r for r in out["failedRecords"]}
    assert failed["E3"]["sf__Error"] == "INVALID_EMAIL_ADDRESS:Email: invalid email address: bad-email:Email --"
    assert failed["E4"]["sf__Error"].startswith("STRING_TOO_LONG:Last Name: data value too large:")
    assert failed["E4"]["sf__Id"] == "" and failed["E4"]["LastName"] == "x" * 81
    assert out["unprocessedRecords"] == []

    stored = {r["External_Id__c"]: r for r in emu.records("Contact")}
    assert stored["E2"]["LastName"] == "Updated" and stored["E2"]["FirstName"] == "Keep"
    assert set(stored) == {"E1", "E2"}


def test_result_files_quote_sf_columns_and_keep_header_order(emu: SalesforceEmulator, sf: Salesforce) -> None:
    data = "LastName,External_Id__c,Email\nA,X1,a@acme.example\nB,X2,\"b,bad\"\n"
    job = _create_job(emu, sf, "upsert", External_Id__c=None)
    _upload_close_wait(emu, sf, job, data)
    ok = sf.bulk2.Contact.get_successful_records(job)
    assert ok.splitlines()[0] == '"sf__Id","sf__Created",LastName,External_Id__c,Email'
    assert ok.splitlines()[1].endswith(',"true",A,X1,a@acme.example')
    bad = sf.bulk2.Contact.get_failed_records(job)
    assert bad.splitlines()[0] == '"sf__Id","sf__Error",LastName,External_Id__c,Email'
    assert bad.splitlines()[1] == ('"","INVALID_EMAIL_ADDRESS:Email: invalid email address: b,bad:Email --",'
                                   'B,X2,"b,bad"')


def _create_job(emu: SalesforceEmulator, sf: Salesforce, operation: str, **ext: Any) -> str:
    body: dict[str, Any] = {"operation": operation, "object": "Contact", "contentType": "CSV",
                            "columnDelimiter": "COMMA", "lineEnding": "LF"}
    if ext:
        body["externalIdFieldName"] = next(iter(ext))
    r = emu.http_session().post(_jobs_url(emu), json=body, headers=_auth(sf))
    assert r.status_code == 200 and r.json()["state"] == "Open"
    return str(r.json()["id"])


def _upload_close_wait(emu: SalesforceEmulator, sf: Salesforce, job: str, data: str) -> list[str]:
    s = emu.http_session()
    put = s.put(f"{_jobs_url(emu)}/{job}/batches", data=data.encode(),
                headers={**_auth(sf), "Content-Type": "text/csv"})
    assert put.status_code == 201 and put.content == b""
    closed = s.patch(f"{_jobs_url(emu)}/{job}", json={"state": "UploadComplete"}, headers=_auth(sf))
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    states = []
    for _ in range(200):
        info = s.get(f"{_jobs_url(emu)}/{job}", headers=_auth(sf)).json()
        states.append(info["state"])
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return states
        time.sleep(0.01)
    raise AssertionError(f"job never finished: {states}")


def test_polls_go_through_in_progress_and_all_failed_is_job_complete(emu: SalesforceEmulator,
                                                                      sf: Salesforce) -> None:
    job = _create_job(emu, sf, "insert")
    states = _upload_close_wait(emu, sf, job, "FirstName\nA\nB\n")
    assert "InProgress" in states and states[-1] == "JobComplete"
    info = emu.http_session().get(f"{_jobs_url(emu)}/{job}", headers=_auth(sf)).json()
    assert info["numberRecordsFailed"] == 2 and info["numberRecordsProcessed"] == 2
    assert info["jobType"] == "V2Ingest" and "errorMessage" not in info
    assert info["createdDate"].endswith("+0000")


def test_second_upload_is_rejected(emu: SalesforceEmulator, sf: Salesforce) -> None:
    job = _create_job(emu, sf, "insert")
    s = emu.http_session()
    assert s.put(f"{_jobs_url(emu)}/{job}/batches", data=b"LastName\nA\n", headers=_auth(sf)).status_code == 201
    again = s.put(f"{_jobs_url(emu)}/{job}/batches", data=b"LastName\nB\n", headers=_auth(sf))
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_unknown_column_fails_the_job(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceOperationError) as exc:
        sf.bulk2.Contact.insert(records=[{"LastName": "A", "ContactId__c": "1"}], wait=0)
    assert "InvalidBatch : Field name not found : ContactId__c" in str(exc.value)
    assert emu.records("Contact") == []
    [job] = emu.bulk.jobs()
    assert job.state == "Failed" and job.processed == 0
    unprocessed = sf.bulk2.Contact.get_unprocessed_records(job.id)
    assert len(unprocessed.splitlines()) == 2
    # simple-salesforce asks for camelCase unprocessedRecords; the documented path is lowercase
    lower = emu.http_session().get(f"{_jobs_url(emu)}/{job.id}/unprocessedrecords/", headers=_auth(sf))
    assert lower.status_code == 200 and lower.text == unprocessed


def test_injected_job_failure_raises_operation_error(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.bulk_job_fails("InternalServerError : retry later")
    with pytest.raises(SalesforceOperationError, match="InternalServerError : retry later"):
        sf.bulk2.Contact.insert(records=[{"LastName": "A"}], wait=0)
    [result] = sf.bulk2.Contact.insert(records=[{"LastName": "A"}], wait=0)
    assert result["numberRecordsFailed"] == 0


def test_na_sets_null_and_empty_leaves_value(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed("Contact", [{"LastName": "A", "External_Id__c": "N1", "FirstName": "Keep", "Phone": "555",
                          "Email": "a@acme.example"}])
    rows = [{"External_Id__c": "N1", "LastName": "A2", "FirstName": "", "Phone": "#N/A", "Email": ""}]
    [res] = sf.bulk2.Contact.upsert(records=rows, external_id_field="External_Id__c", wait=0)
    assert res["numberRecordsFailed"] == 0
    [rec] = emu.records("Contact")
    assert (rec["LastName"], rec["FirstName"], rec["Phone"], rec["Email"]) == ("A2", "Keep", None, "a@acme.example")


def test_lookup_by_external_id_in_csv_header(emu: SalesforceEmulator, sf: Salesforce) -> None:
    [acct] = emu.seed("Account", [{"Name": "Acme", "External_Id__c": "A1"}])
    rows = [{"LastName": "A", "Account.External_Id__c": "A1", "External_Id__c": "L1"},
            {"LastName": "B", "Account.External_Id__c": "A404", "External_Id__c": "L2"}]
    [res] = sf.bulk2.Contact.upsert(records=rows, external_id_field="External_Id__c", wait=0)
    assert res["numberRecordsFailed"] == 1
    [failed] = sf.bulk2.Contact.get_all_ingest_records(res["job_id"])["failedRecords"]
    assert failed["sf__Error"] == ("INVALID_FIELD:Foreign key external ID: A404 not found for field "
                                   "External_Id__c in entity Account:--")
    assert [(r["External_Id__c"], r["AccountId"]) for r in emu.records("Contact")] == [("L1", acct)]


def test_duplicate_keys_in_one_job(emu: SalesforceEmulator, sf: Salesforce) -> None:
    rows = [{"External_Id__c": "D", "LastName": "1"}, {"External_Id__c": "d", "LastName": "2"},
            {"External_Id__c": "U", "LastName": "3"}]
    [res] = sf.bulk2.Contact.upsert(records=rows, external_id_field="External_Id__c", wait=0)
    assert res["numberRecordsFailed"] == 2
    errs = {r["sf__Error"] for r in sf.bulk2.Contact.get_all_ingest_records(res["job_id"])["failedRecords"]}
    assert errs == {"DUPLICATE_VALUE:Duplicate external id specified: D:External_Id__c --",
                    "DUPLICATE_VALUE:Duplicate external id specified: d:External_Id__c --"}


def test_insert_update_delete_and_hard_delete(emu: SalesforceEmulator, sf: Salesforce) -> None:
    [ins] = sf.bulk2.Contact.insert(records=[{"LastName": "A"}, {"LastName": "B"}, {"LastName": "C"}], wait=0)
    ids = [r["sf__Id"] for r in sf.bulk2.Contact.get_all_ingest_records(ins["job_id"])["successfulRecords"]]
    assert len(ids) == 3
    [upd] = sf.bulk2.Contact.update(records=[{"Id": ids[0], "FirstName": "Ann"},
                                             {"Id": "003000000000000AAA", "FirstName": "Ghost"}], wait=0)
    assert upd["numberRecordsFailed"] == 1
    assert {r["Id"]: r["FirstName"] for r in emu.records("Contact")}[ids[0]] == "Ann"
    [dele] = sf.bulk2.Contact.delete(records=[{"Id": ids[0]}, {"Id": ids[1]}], wait=0)
    [hard] = sf.bulk2.Contact.hard_delete(records=[{"Id": ids[2]}, {"Id": ids[0]}], wait=0)
    assert dele["numberRecordsFailed"] == 0 and hard["numberRecordsFailed"] == 1
    assert emu.records("Contact") == []


def test_type_errors_in_csv_are_per_row(emu: SalesforceEmulator, sf: Salesforce) -> None:
    rows = [{"LastName": "A", "Lead_Score__c": "abc", "Is_Customer__c": "true"},
            {"LastName": "B", "Lead_Score__c": "1.5", "Is_Customer__c": "1", "Birthdate": "2001-02-03"}]
    [res] = sf.bulk2.Contact.insert(records=rows, wait=0)
    [failed] = sf.bulk2.Contact.get_all_ingest_records(res["job_id"])["failedRecords"]
    assert failed["sf__Error"] == ("INVALID_TYPE_ON_FIELD_IN_RECORD:Lead Score: value not of required type: abc:"
                                   "Lead_Score__c --")
    [rec] = emu.records("Contact")
    assert (rec["Lead_Score__c"], rec["Is_Customer__c"], rec["Birthdate"]) == (1.5, True, "2001-02-03")


def test_dates_outside_1700_to_4000_fail_per_row_in_csv(emu: SalesforceEmulator, sf: Salesforce) -> None:
    rows = [{"LastName": "A", "Birthdate": "1650-06-01"}, {"LastName": "B", "Last_Seen_At__c": "4001-01-01T00:00:00Z"},
            {"LastName": "C", "Birthdate": "1700-01-01", "Last_Seen_At__c": "4000-12-31T00:00:00Z"}]
    [res] = sf.bulk2.Contact.insert(records=rows, wait=0)
    failed = sf.bulk2.Contact.get_all_ingest_records(res["job_id"])["failedRecords"]
    assert sorted(f["sf__Error"].split(":")[0] for f in failed) == ["FIELD_INTEGRITY_EXCEPTION"] * 2
    [rec] = emu.records("Contact")
    assert (rec["LastName"], rec["Birthdate"]) == ("C", "1700-01-01")
    assert rec["Last_Seen_At__c"] == "4000-12-31T00:00:00.000+0000"


def test_bad_external_id_field_rejects_job_creation(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.bulk2.Contact.upsert(records=[{"LastName": "A"}], external_id_field="LastName", wait=0)
    assert exc.value.content[0]["errorCode"] == "INVALIDJOB"


def test_results_are_shuffled_deterministically(emu: SalesforceEmulator, sf: Salesforce) -> None:
    rows = [{"External_Id__c": f"S{i:03d}", "LastName": "x"} for i in range(100)]
    [res] = sf.bulk2.Contact.upsert(records=rows, external_id_field="External_Id__c", wait=0)
    first = sf.bulk2.Contact.get_successful_records(res["job_id"])
    order = [r["External_Id__c"] for r in csv.DictReader(io.StringIO(first))]
    assert sorted(order) == [r["External_Id__c"] for r in rows] and order != sorted(order)
    assert sf.bulk2.Contact.get_successful_records(res["job_id"]) == first


def test_expired_session_in_bulk_is_not_refreshed(emu: SalesforceEmulator, sf_login: Salesforce) -> None:
    from simple_salesforce import SalesforceExpiredSession

    emu.faults.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf_login.bulk2.Contact.insert(records=[{"LastName": "A"}], wait=0)


def test_fifty_thousand_rows_in_one_job(emu: SalesforceEmulator, sf: Salesforce) -> None:
    rows = [{"External_Id__c": f"P{i}", "LastName": f"L{i}", "Email": f"p{i}@acme.example",
             "Lead_Score__c": str(i % 100)} for i in range(50_000)]
    started = time.monotonic()
    [res] = sf.bulk2.Contact.upsert(records=rows, external_id_field="External_Id__c", wait=0)
    assert res["numberRecordsProcessed"] == 50_000 and res["numberRecordsFailed"] == 0
    assert len(emu.records("Contact")) == 50_000
    assert time.monotonic() - started < 30


def test_abort_returns_job_info_and_stays_aborted(emu: SalesforceEmulator, sf: Salesforce) -> None:
    job = _create_job(emu, sf, "insert")
    s = emu.http_session()
    aborted = s.patch(f"{_jobs_url(emu)}/{job}", json={"state": "Aborted"}, headers=_auth(sf))
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert s.get(f"{_jobs_url(emu)}/{job}", headers=_auth(sf)).json()["state"] == "Aborted"
    late = s.put(f"{_jobs_url(emu)}/{job}/batches", data=b"LastName\nA\n", headers=_auth(sf))
    assert late.status_code == 409
    assert s.delete(f"{_jobs_url(emu)}/{job}", headers=_auth(sf)).status_code == 204
    assert s.get(f"{_jobs_url(emu)}/{job}", headers=_auth(sf)).status_code == 404


def _raw_job(emu: SalesforceEmulator, sf: Salesforce, csv_text: str) -> dict[str, Any]:
    import requests

    headers = {**_auth(sf), "Content-Type": "application/json"}
    job = requests.post(_jobs_url(emu), json={"object": "Account", "operation": "insert", "lineEnding": "LF"},
                        headers=headers, verify=emu.ca_cert_path, timeout=10).json()
    url = f"{_jobs_url(emu)}/{job['id']}"
    requests.put(f"{url}/batches", data=csv_text.encode(), headers={**_auth(sf), "Content-Type": "text/csv"},
                 verify=emu.ca_cert_path, timeout=10)
    requests.patch(url, json={"state": "UploadComplete"}, headers=headers, verify=emu.ca_cert_path, timeout=10)
    for _ in range(200):
        info = requests.get(url, headers=headers, verify=emu.ca_cert_path, timeout=10).json()
        if info["state"] in ("JobComplete", "Failed"):
            return dict(info)
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def test_csv_is_read_as_rfc_4180(emu: SalesforceEmulator, sf: Salesforce) -> None:
    """Quoted CR, LF and CRLF are data; an unquoted bare CR ends the line, as Salesforce's reader does."""
    info = _raw_job(emu, sf, 'Name,Description\n"Alpha\rBeta","x\r\ny"\r\nGamma\rDelta,"say ""hi"""\n')
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 3
    stored = {r["Name"]: r["Description"] for r in emu.records("Account")}
    assert stored == {"Alpha\rBeta": "x\r\ny", "Gamma": None, "Delta": 'say "hi"'}


@pytest.mark.parametrize("bad", ['Name,Description\n"A" ,x\n', 'Name,Description\nA, "x"\n', 'Name\n"open\n'])
def test_malformed_csv_fails_the_job(emu: SalesforceEmulator, sf: Salesforce, bad: str) -> None:
    info = _raw_job(emu, sf, bad)
    assert info["state"] == "Failed" and info["errorMessage"].startswith("InvalidBatch : Failed to parse CSV")
    assert emu.records("Account") == []
