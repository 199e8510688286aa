"""Fault injection: each fault surfaces as the client-side exception a real outage would cause."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceGeneralError, SalesforceRefusedRequest

from dbt_sync_emulators.salesforce import SalesforceEmulator


def test_latency_delays_every_request(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.latency = 0.2
    started = time.monotonic()
    sf.query("SELECT COUNT() FROM Contact")
    assert time.monotonic() - started >= 0.2


def test_fail_next_returns_5xx_then_recovers(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as exc:
            sf.query("SELECT COUNT() FROM Contact")
        assert exc.value.status == 503
        assert exc.value.content == [{"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_fail_next_only_matching_paths(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.fail_next(1, status=500, path_contains="composite/sobjects")
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.restful("composite/sobjects", method="POST",
                   json={"records": [{"attributes": {"type": "Contact"}, "LastName": "A"}]})
    assert exc.value.status == 500 and exc.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert emu.records("Contact") == []


def test_timeout_next_makes_the_client_time_out(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.timeout_next(1, seconds=2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.restful("limits/", timeout=0.3)
    assert sf.restful("limits/", timeout=2)["DailyApiRequests"]["Max"] == 15000


def test_drop_next_closes_the_connection(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.drop_next(1)
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.query("SELECT COUNT() FROM Contact")
    assert emu.request_log[-1][2] == 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_daily_limit_is_403_request_limit_exceeded(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.daily_limit_exceeded = True
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT COUNT() FROM Contact")
    assert exc.value.status == 403
    assert exc.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_usage_reaching_the_max_is_refused() -> None:
    with SalesforceEmulator(api_usage_max=2) as emu:
        sf = Salesforce(session_id=emu.issue_session(), instance_url=emu.instance_url,
                        session=emu.http_session())
        sf.query("SELECT COUNT() FROM Contact")
        sf.query("SELECT COUNT() FROM Contact")
        assert sf.api_usage["api-usage"].used == 2
        with pytest.raises(SalesforceRefusedRequest):
            sf.query("SELECT COUNT() FROM Contact")


def test_concurrent_limit(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.concurrent_limit = 1
    emu.faults.timeout_next(1, seconds=0.6)
    slow_done = threading.Event()

    def slow() -> None:
        sf.restful("limits/")
        slow_done.set()

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    other = Salesforce(session_id=sf.session_id, instance_url=emu.instance_url, session=emu.http_session())
    with pytest.raises(SalesforceRefusedRequest) as exc:
        other.query("SELECT COUNT() FROM Contact")
    assert exc.value.content[0]["message"] == "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
    t.join(5)
    assert slow_done.is_set()
    assert other.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_fault_counters_are_exact_under_concurrency(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.fail_next(5, status=500)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        s = emu.http_session()
        r = s.get(f"{emu.instance_url}/services/data/v59.0/limits/",
                  headers={"Authorization": f"Bearer {sf.session_id}"})
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(statuses) == [200] * 7 + [500] * 5


def test_reset_clears_records_jobs_and_faults(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed("Contact", [{"LastName": "A"}])
    sf.bulk2.Contact.insert(records=[{"LastName": "B"}], wait=0)
    emu.faults.fail_next(3)
    emu.reset()
    assert emu.records("Contact") == [] and emu.bulk.jobs() == [] and emu.request_log == []
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    assert sf.Contact.describe()["name"] == "Contact"


def test_collections_throughput(emu: SalesforceEmulator, sf: Salesforce) -> None:
    started = time.monotonic()
    for batch in range(10):
        resp = sf.restful("composite/sobjects/Contact/External_Id__c", method="PATCH", json={"records": [
            {"attributes": {"type": "Contact"}, "External_Id__c": f"T{batch}-{i}", "LastName": "x",
             "Email": f"t{batch}.{i}@acme.example"} for i in range(200)]})
        assert all(r["success"] for r in resp)
    assert len(emu.records("Contact")) == 2000
    assert time.monotonic() - started < 10


def test_stop_closes_the_port() -> None:
    emu = SalesforceEmulator().start()
    url = f"{emu.instance_url}/services/data/"
    s = emu.http_session()
    assert s.get(url).status_code == 200
    emu.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get(url, timeout=2)
