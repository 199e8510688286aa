"""TLS, login flows and session expiry, driven through simple-salesforce."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce, SalesforceAuthenticationFailed, SalesforceExpiredSession

from dbt_sync_emulators.salesforce import SalesforceEmulator

from .conftest import PASSWORD, TOKEN, USERNAME


def test_serves_tls_that_verifies_only_against_the_emulator_ca(emu: SalesforceEmulator) -> None:
    ok = emu.http_session().get(f"{emu.instance_url}/services/data/")
    assert ok.status_code == 200
    untrusting = requests.Session()
    untrusting.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.get(f"{emu.instance_url}/services/data/")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{emu.port}/services/data/", timeout=2)


def test_localhost_name_is_in_the_certificate(emu: SalesforceEmulator) -> None:
    r = emu.http_session().get(f"https://localhost:{emu.port}/services/data/")
    assert r.status_code == 200


def test_soap_login_then_data_calls_go_to_the_instance(emu: SalesforceEmulator, sf_login: Salesforce) -> None:
    assert sf_login.sf_instance == f"127.0.0.1:{emu.port}"
    assert sf_login.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    assert ("POST", "/services/Soap/u/59.0", 200) in emu.request_log


def test_soap_login_failure_raises_authentication_failed(emu: SalesforceEmulator) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(username=USERNAME, password="wrong", security_token=TOKEN, session=emu.login_session())
    assert exc.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in exc.value.auth_message
    assert ("POST", "/services/Soap/u/59.0", 500) in emu.request_log


def test_soap_login_requires_the_security_token(emu: SalesforceEmulator) -> None:
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(username=USERNAME, password=PASSWORD, security_token="", session=emu.login_session())


def test_oauth_password_flow(emu: SalesforceEmulator) -> None:
    emu.add_connected_app("CK", "CS")
    sf = Salesforce(username=USERNAME, password=PASSWORD + TOKEN, consumer_key="CK", consumer_secret="CS",
                    session=emu.login_session())
    assert sf.sf_instance == f"127.0.0.1:{emu.port}"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(username=USERNAME, password="nope", consumer_key="CK", consumer_secret="CS",
                   session=emu.login_session())
    assert exc.value.code == "invalid_grant"
    assert exc.value.auth_message == "authentication failure"


def test_client_credentials_flow_with_my_domain(emu: SalesforceEmulator) -> None:
    emu.add_connected_app("CK2", "S3cret")
    sf = Salesforce(consumer_key="CK2", consumer_secret="S3cret", domain="acme.my", session=emu.login_session())
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(consumer_key="CK2", consumer_secret="wrong", domain="acme.my", session=emu.login_session())
    assert exc.value.code == "invalid_client"


def _rsa_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_jwt_bearer_flow_verifies_signature_and_claims(emu: SalesforceEmulator) -> None:
    private, public = _rsa_pair()
    emu.add_connected_app("JWTKEY", public_key_pem=public)
    sf = Salesforce(username=USERNAME, consumer_key="JWTKEY", privatekey=private.decode(),
                    session=emu.login_session())
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0

    other_private, _ = _rsa_pair()
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(username=USERNAME, consumer_key="JWTKEY", privatekey=other_private.decode(),
                   session=emu.login_session())
    assert (exc.value.code, exc.value.auth_message) == ("invalid_grant", "invalid assertion")

    with pytest.raises(SalesforceAuthenticationFailed), pytest.warns(UserWarning, match="authorize"):
        Salesforce(username="nobody@acme.example", consumer_key="JWTKEY", privatekey=private.decode(),
                   session=emu.login_session())


def test_jwt_bearer_rejects_expired_and_wrong_audience(emu: SalesforceEmulator) -> None:
    private, public = _rsa_pair()
    emu.add_connected_app("JWTKEY", public_key_pem=public)
    url = f"{emu.instance_url}/services/oauth2/token"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    def post(claims: dict[str, object]) -> requests.Response:
        token = jwt.encode(claims, private, algorithm="RS256")
        return emu.http_session().post(url, data={"grant_type": grant, "assertion": token})

    base = {"iss": "JWTKEY", "sub": USERNAME, "aud": "https://login.salesforce.com"}
    assert post({**base, "exp": str(int(time.time()) + 60)}).status_code == 200
    expired = post({**base, "exp": str(int(time.time()) - 60)})
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
    wrong_aud = post({**base, "aud": "https://evil.example.com", "exp": str(int(time.time()) + 60)})
    assert wrong_aud.json() == {"error": "invalid_grant", "error_description": "audience is invalid"}


def test_401_is_a_list_and_password_clients_log_in_again(emu: SalesforceEmulator, sf_login: Salesforce) -> None:
    sf_login.query("SELECT COUNT() FROM Contact")
    emu.faults.expire_sessions()
    raw = emu.http_session().get(f"{emu.instance_url}/services/data/v59.0/limits/",
                                 headers={"Authorization": f"Bearer {sf_login.session_id}"})
    assert raw.status_code == 401
    assert raw.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    result = sf_login.query("SELECT COUNT() FROM Contact")
    assert result["totalSize"] == 0
    statuses = [s for m, p, s in emu.request_log if p.endswith("/query/")]
    assert statuses[-2:] == [401, 200]
    assert sum(1 for _, p, _ in emu.request_log if p.startswith("/services/Soap")) == 2


def test_direct_session_clients_get_expired_session(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Contact")
    assert exc.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_missing_or_unknown_token_is_401(emu: SalesforceEmulator) -> None:
    s = emu.http_session()
    assert s.get(f"{emu.instance_url}/services/data/v59.0/sobjects/").status_code == 401
    r = s.get(f"{emu.instance_url}/services/data/v59.0/sobjects/", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_request_log_never_holds_secrets(emu: SalesforceEmulator, sf_login: Salesforce) -> None:
    sf_login.query("SELECT COUNT() FROM Contact")
    text = repr(emu.request_log)
    assert sf_login.session_id not in text and PASSWORD not in text and TOKEN not in text
