"""E-mail over SMTP (the standard library's smtplib), to the people a report needs.

``SPEAKUP_SMTP_URL`` names the server: ``smtp://host:port`` (plain, upgraded with STARTTLS
when the URL says ``?starttls=true``), or ``smtps://host:port`` (TLS from the start), with
``user:password@`` before the host when the server wants a login.  A message names the
report's reference and a link to it, never its text or its reporter.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

SUBJECTS = {
    "report.routed": "a report for you",
    "report.escalated": "a report escalated to you",
    "report.assigned": "a report assigned to you",
    "report.message": "the reporter wrote back",
    "report.acknowledged": "a report was acknowledged",
    "report.closed": "a report's loop was closed",
}


class BadSmtpUrl(ValueError):
    pass


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    tls: bool = False
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> Smtp:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise BadSmtpUrl("SPEAKUP_SMTP_URL must look like smtp://host:port or "
                             "smtps://user:password@host:port")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise BadSmtpUrl("SPEAKUP_SMTP_URL has a bad port") from None
        query = parse_qs(parts.query)
        return cls(host=parts.hostname, port=port, tls=parts.scheme == "smtps",
                   starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
                   user=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)

    def send(self, message: EmailMessage, *, timeout: float) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with client:
            if self.starttls:
                client.starttls(context=context)
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)


def message(*, sender: str, to: str, event_type: str, reference: str, link: str
            ) -> EmailMessage:
    """The e-mail for one event: reference and link only."""
    mail = EmailMessage()
    what = SUBJECTS.get(event_type, event_type)
    mail["Subject"] = f"[speakup] {reference}: {what}"
    mail["From"] = sender
    mail["To"] = to
    mail.set_content(
        f"Report {reference} needs you: {what}.\n\n"
        f"Open it in speakup: {link}\n\n"
        "This e-mail holds no report text on purpose; read the report in speakup.\n")
    return mail
