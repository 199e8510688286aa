"""Email over SMTP: a multipart message with a plain-text and an HTML part.

Settings (``channels.<name>`` in dbt_sync.yml, ``type: email``):
``host`` (required), ``port`` (default 587 for starttls, 465 for tls, 25
for none), ``security`` (``starttls`` default, ``tls``, ``none``),
``username`` / ``password`` (AUTH, optional), ``from`` (required), ``to``
(required: an address or a list), ``subject_prefix`` (default
``[dbt-sync]``), ``timeout_seconds``, ``ca_bundle`` / ``verify_tls``.
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from dbt_sync.alerts import render
from dbt_sync.alerts.channels.base import ChannelError, Settings

SECURITY = ("starttls", "tls", "none")
_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def build_message(settings: Settings, payload: dict[str, Any], alert_id: str) -> EmailMessage:
    sender = settings.text("from", required=True)
    recipients = settings.str_list("to", required=True)
    prefix = settings.text("subject_prefix", "[dbt-sync]") or ""
    # Long lines are allowed (RFC 5322: 998): the stdlib's 78-column folding
    # can push a long subject onto a continuation line that some readers show
    # with a leading blank.
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = render.subject(payload, prefix)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=alert_id[:16], domain="dbt-sync")
    msg["X-DbtSync-Alert-Id"] = alert_id
    msg.set_content(render.render_text(payload))
    msg.add_alternative(render.render_html(payload), subtype="html")
    return msg


def _tls_context(settings: Settings) -> ssl.SSLContext:
    verify = settings.verify()
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def send(settings: Settings, payload: dict[str, Any], alert_id: str) -> None:
    security = settings.text("security", "starttls")
    if security not in SECURITY:
        raise ChannelError(f"{settings.where('security')}: {security!r} is not one of {', '.join(SECURITY)}",
                           retriable=False)
    assert security is not None
    host = settings.text("host", required=True)
    assert host is not None
    port = int(settings.number("port", _PORTS[security]))
    timeout = settings.timeout()
    username = settings.text("username")
    password = settings.text("password")
    msg = build_message(settings, payload, alert_id)
    where = f"email channel {settings.name} ({host}:{port})"
    try:
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(settings))
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if security == "starttls":
                smtp.starttls(context=_tls_context(settings))
                smtp.ehlo()
            if username:
                smtp.login(username, password or "")
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelError(f"{where}: authentication failed ({exc.smtp_code})", retriable=False) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise ChannelError(f"{where}: {exc}", retriable=False) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise ChannelError(f"{where}: every recipient was refused: {sorted(exc.recipients)}",
                           retriable=False) from None
    except ssl.SSLError as exc:
        raise ChannelError(f"{where}: TLS error: {exc}", retriable=False) from None
    except smtplib.SMTPResponseException as exc:
        retriable = 400 <= exc.smtp_code < 500
        raise ChannelError(f"{where}: SMTP {exc.smtp_code}: {exc.smtp_error!r}", retriable=retriable) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ChannelError(f"{where}: cannot deliver: {type(exc).__name__}: {exc}") from None
    if refused:
        raise ChannelError(f"{where}: refused recipients: {sorted(refused)}", retriable=False)
