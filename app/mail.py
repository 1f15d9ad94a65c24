"""Outgoing mail: queued in PostgreSQL (app/jobs.py), sent by the worker over SMTP with aiosmtplib.

Any feature sends mail with `await enqueue_mail(to, subject, text, html=None)`, preferably inside
the transaction that makes the mail true (the reset token, a status change…): the mail then
exists exactly when the data does. Requests never wait for the mail server. Without SMTP_HOST the
worker writes the message to the server log instead (development).
"""
from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from . import jobs

log = logging.getLogger(__name__)
MAIL_JOB = "correo"


async def enqueue_mail(to: str, subject: str, text: str, html: str | None = None) -> int:
    """Queue one message (plain text, optionally an HTML alternative); return the job id."""
    return await jobs.enqueue(MAIL_JOB, {"to": to, "subject": subject, "text": text, "html": html})


def compose(settings, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    """The MIME message."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.mail_from, to, subject
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def _tls_options(settings) -> dict:
    """aiosmtplib's TLS arguments for SMTP_TLS: starttls (required, default), tls (implicit) or none."""
    mode = (settings.smtp_tls or "starttls").lower()
    if mode == "tls":
        return {"use_tls": True}
    return {"start_tls": mode == "starttls"}


@jobs.handler(MAIL_JOB)
async def deliver(settings, payload: dict) -> None:
    """Send one queued message; an exception makes the queue retry it later."""
    msg = compose(settings, payload["to"], payload["subject"], payload["text"], payload.get("html"))
    if not settings.smtp_host:
        log.warning("SMTP no configurado; correo para %s: %s\n%s", payload["to"], payload["subject"], payload["text"])
        return
    await aiosmtplib.send(msg, hostname=settings.smtp_host, port=settings.smtp_port,
                          username=settings.smtp_user or None, password=settings.smtp_password or None,
                          timeout=settings.smtp_timeout, **_tls_options(settings))
    log.info("correo enviado a %s: %s", payload["to"], payload["subject"])
