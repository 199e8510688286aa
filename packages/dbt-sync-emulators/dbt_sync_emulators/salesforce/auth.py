"""Login flows (SOAP partner login, OAuth token endpoint) and session bookkeeping.

simple-salesforce only ever talks to ``https://{domain}.salesforce.com`` for
login, parses fixed tag names out of the SOAP reply and requires ``instance_url``
from OAuth; every reply here is shaped for exactly that parsing. Secrets
(passwords, tokens, assertions) are compared and discarded; nothing here logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import jwt

ORG_ID = "00D5g000004Xyz1EAC"
_AUD_RE = re.compile(r"^https://[A-Za-z0-9.-]+\.salesforce\.com/?$")
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."

Reply = tuple[int, str, bytes]


@dataclass
class User:
    username: str
    password: str
    security_token: str
    user_id: str


@dataclass
class ConnectedApp:
    consumer_key: str
    consumer_secret: str | None
    public_key_pem: str | None


class Sessions:
    """Issued session ids; expiring them all models a revoked or timed-out session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._valid: dict[str, str] = {}

    def issue(self, user_id: str = "005000000000001AAA") -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._valid[token] = user_id
        return token

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self._valid

    def expire_all(self) -> None:
        with self._lock:
            self._valid.clear()


class Authenticator:
    """Users, connected apps and the two login endpoints."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._users: dict[str, User] = {}
        self._apps: dict[str, ConnectedApp] = {}
        #: JWT ``aud`` values accepted; None accepts any https://<domain>.salesforce.com
        self.jwt_audiences: set[str] | None = None

    def add_user(self, username: str, password: str, security_token: str = "") -> None:
        uid = f"0055g{len(self._users) + 1:010d}AAA"
        self._users[username.lower()] = User(username, password, security_token, uid)

    def add_connected_app(
        self, consumer_key: str, consumer_secret: str | None = None, public_key_pem: str | None = None
    ) -> None:
        self._apps[consumer_key] = ConnectedApp(consumer_key, consumer_secret, public_key_pem)

    def _check_password(self, username: str, password: str, allow_without_token: bool) -> User | None:
        user = self._users.get(username.lower())
        if user is None:
            return None
        good = hmac.compare_digest(password, user.password + user.security_token)
        if not good and allow_without_token:
            good = hmac.compare_digest(password, user.password)
        return user if good else None

    # ---- SOAP ----

    def soap_login(self, body: bytes, instance_url: str, version: str) -> Reply:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return _soap_fault("INVALID_LOGIN", _INVALID_LOGIN)
        values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        user = self._check_password(values.get("username", ""), values.get("password", ""), False)
        if user is None:
            return _soap_fault("INVALID_LOGIN", _INVALID_LOGIN)
        session = self.sessions.issue(user.user_id)
        server_url = f"{instance_url}/services/Soap/u/{version}/{ORG_ID[:15]}"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{instance_url}/services/Soap/m/{version}/{ORG_ID[:15]}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{escape(server_url)}</serverUrl>"
            f"<sessionId>{escape(session)}</sessionId>"
            f"<userId>{user.user_id}</userId>"
            f"<userInfo><organizationId>{ORG_ID}</organizationId>"
            f"<userName>{escape(user.username)}</userName></userInfo>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return 200, "text/xml; charset=utf-8", xml.encode()

    # ---- OAuth ----

    def oauth_token(self, body: bytes, authorization: str | None, instance_url: str) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        if grant == "password":
            app = self._apps.get(form.get("client_id", ""))
            if app is None:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if app.consumer_secret is None or not hmac.compare_digest(
                form.get("client_secret", ""), app.consumer_secret
            ):
                return _oauth_error("invalid_client", "invalid client credentials")
            user = self._check_password(form.get("username", ""), form.get("password", ""), True)
            if user is None:
                return _oauth_error("invalid_grant", "authentication failure")
            return self._token(user.user_id, instance_url)
        if grant == "client_credentials":
            key, secret = form.get("client_id", ""), form.get("client_secret", "")
            if authorization and authorization.lower().startswith("basic "):
                try:
                    key, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    return _oauth_error("invalid_client", "invalid client credentials")
            app = self._apps.get(key)
            if app is None:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if app.consumer_secret is None or not hmac.compare_digest(secret, app.consumer_secret):
                return _oauth_error("invalid_client", "invalid client credentials")
            return self._token("0055g0000000000AAA", instance_url)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_bearer(form.get("assertion", ""), instance_url)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt_bearer(self, assertion: str, instance_url: str) -> Reply:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        app = self._apps.get(str(unverified.get("iss", "")))
        if app is None or not app.public_key_pem:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iss", "sub", "aud", "exp"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            return _oauth_error("invalid_grant", "expired authorization code")
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        aud = claims["aud"]
        auds = aud if isinstance(aud, list) else [aud]
        ok_aud = any(
            (a in self.jwt_audiences) if self.jwt_audiences is not None else bool(_AUD_RE.match(str(a)))
            for a in auds
        )
        if not ok_aud:
            return _oauth_error("invalid_grant", "audience is invalid")
        user = self._users.get(str(claims["sub"]).lower())
        if user is None:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        return self._token(user.user_id, instance_url)

    def _token(self, user_id: str, instance_url: str) -> Reply:
        token = self.sessions.issue(user_id)
        issued = str(int(time.time() * 1000))
        signature = base64.b64encode(
            hmac.new(ORG_ID.encode(), (instance_url + issued).encode(), hashlib.sha256).digest()
        ).decode()
        body = {
            "access_token": token,
            "instance_url": instance_url,
            "id": f"https://login.salesforce.com/id/{ORG_ID}/{user_id}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api",
        }
        return 200, "application/json;charset=UTF-8", json.dumps(body).encode()


def _oauth_error(error: str, description: str) -> Reply:
    return 400, "application/json;charset=UTF-8", json.dumps(
        {"error": error, "error_description": description}
    ).encode()


def _soap_fault(code: str, message: str) -> Reply:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return 500, "text/xml; charset=utf-8", xml.encode()
