"""Bearer-token checks and the OAuth refresh-token flow.

Private-app tokens never expire; OAuth access tokens do, and HubSpot tells the
caller by how much (``expired N second(s) ago``), which is what lets a
destination tell "refresh and retry" apart from "credentials are wrong".
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ApiError, api_error

MISSING_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    refresh_tokens: set[str]


class Auth:
    """Known private-app tokens, OAuth apps and issued access tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: set[str] = set()
        self.apps: dict[str, OAuthApp] = {}
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)

    def add_token(self, token: str) -> None:
        with self._lock:
            self.tokens.add(token)

    def add_oauth_app(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        with self._lock:
            app = self.apps.setdefault(client_id, OAuthApp(client_id, client_secret, set()))
            app.client_secret = client_secret
            app.refresh_tokens.add(refresh_token)

    def check(self, authorization: str | None) -> bool:
        """Raise the 401 HubSpot would send; True for a private-app token, False for an OAuth access token."""
        if not authorization or not authorization.startswith("Bearer "):
            raise api_error(401, "INVALID_AUTHENTICATION", MISSING_CREDENTIALS)
        token = authorization[len("Bearer ") :].strip()
        with self._lock:
            if token in self.tokens:
                return True
            expiry = self.access_tokens.get(token)
        if expiry is None:
            raise api_error(401, "INVALID_AUTHENTICATION", MISSING_CREDENTIALS)
        ago = time.time() - expiry
        if ago >= 0:
            raise api_error(
                401,
                "EXPIRED_AUTHENTICATION",
                f"The OAuth token used to make this call expired {int(ago)} second(s) ago.",
            )
        return False

    def expire_access_tokens(self, seconds_ago: float = 1.0) -> None:
        """Make every issued OAuth access token already expired (saves a test from sleeping)."""
        with self._lock:
            for token in self.access_tokens:
                self.access_tokens[token] = time.time() - seconds_ago

    def token_grant(self, form: Mapping[str, str], expires_in: int) -> dict[str, object]:
        """``POST /oauth/v1/token`` with ``grant_type=refresh_token``."""
        grant = form.get("grant_type")
        if grant != "refresh_token":
            raise ApiError(
                400,
                {"status": "BAD_GRANT_TYPE", "message": f"unsupported grant_type {grant}"},
            )
        with self._lock:
            app = self.apps.get(form.get("client_id", ""))
            if app is None:
                raise ApiError(400, {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"})
            if not secrets.compare_digest(app.client_secret, form.get("client_secret", "")):
                raise ApiError(400, {"status": "BAD_CLIENT_SECRET", "message": "missing or invalid client secret"})
            refresh = form.get("refresh_token", "")
            if refresh not in app.refresh_tokens:
                raise ApiError(400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
            access = "emu-oauth-" + secrets.token_hex(16)
            self.access_tokens[access] = time.time() + expires_in
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": expires_in,
            "token_type": "bearer",
        }

    def reset(self) -> None:
        with self._lock:
            self.access_tokens.clear()
