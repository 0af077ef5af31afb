"""notification.type = mail: a message through SMTP, its body a template of the notification.

A body template substitutes `${name}` (Digdag's syntax) and `{{name}}` with the value of one
of the notification's fields, rendered as in the JSON (unknown context renders empty). A name
is a JSON key (`project_name`, `timezone`), the field's Python name (`time_zone`) or its
camelCase form (`projectName`, `timeZone`). Only plain names: no expressions, no sections;
an unknown name is an error when the template is read, so a bad template stops the server
from starting. In an HTML body (`notification.mail.html = true`) the values are HTML-escaped.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape as html_escape
from pathlib import Path

from dockerflow.errors import UserInputError
from dockerflow.notify.base import JSON_KEYS, Notification, NotificationError, Settings

DEFAULT_SUBJECT = "Digdag Notification"
DEFAULT_BODY = "\n".join([
    "Digdag Notification",
    "",
    "Message: ${message}",
    "Date: ${timestamp}",
    "",
    "Site Id: ${site_id}",
    "Project Name: ${project_name}",
    "Project Id: ${project_id}",
    "Workflow Name: ${workflow_name}",
    "Revision: ${revision}",
    "Attempt Id: ${attempt_id}",
    "Session Id: ${session_id}",
    "Task Name: ${task_name}",
    "Time Zone: ${timezone}",
    "Session Uuid: ${session_uuid}",
    "Session Time: ${session_time}",
])
PLACEHOLDER_RE = re.compile(r"\$\{([^}]*)\}|\{\{([^}]*)\}\}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# every accepted name -> the JSON key whose value it stands for
TEMPLATE_NAMES: dict[str, str] = {}
for _field, _key in JSON_KEYS.items():
    for _name in (_key, _field, _camel(_field)):
        TEMPLATE_NAMES[_name] = _key


def check_template(template: str, source: str) -> None:
    """Raises UserInputError naming `source` for a placeholder that is not a field's name."""
    for match in PLACEHOLDER_RE.finditer(template):
        name = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if name not in TEMPLATE_NAMES:
            line = template.count("\n", 0, match.start()) + 1
            raise UserInputError(f"{source}:{line}: unknown name {match.group(0)!r} in the mail"
                                 f" body template: use a notification field such as"
                                 f" ${{message}}, ${{project_name}} or {{{{workflowName}}}}")


def render(template: str, notification: Notification, *, escape: bool = False) -> str:
    """`template` with each placeholder replaced (see the module's docstring)."""
    values = notification.to_json()

    def value(match: re.Match[str]) -> str:
        name = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        found = values[TEMPLATE_NAMES[name]]
        text = "" if found is None else str(found)
        return html_escape(text) if escape else text

    return PLACEHOLDER_RE.sub(value, template)


def split_addresses(value: str | None) -> list[str]:
    return [a.strip() for a in (value or "").split(",") if a.strip()]


class MailSender:
    """One message per notification from `sender` to `to` (and `cc`, `bcc`), through
    host:port: SMTP over TLS from the start with `use_ssl`, else plain SMTP upgraded with
    STARTTLS when `starttls` (a server without STARTTLS is then a failed try), then LOGIN when
    `username` is set. A refused connection, a refused message or a timeout after `timeout`
    seconds is a failed try."""

    name = "mail"

    def __init__(self, *, host: str, port: int, sender: str, to: list[str],
                 cc: list[str] | None = None, bcc: list[str] | None = None,
                 subject: str = DEFAULT_SUBJECT, body_template: str = DEFAULT_BODY,
                 html: bool = False, username: str | None = None, password: str | None = None,
                 starttls: bool = True, use_ssl: bool = False, timeout: float = 60.0,
                 debug: bool = False) -> None:
        if not to:
            raise UserInputError("notification.mail.to has no address: notification.type = mail"
                                 " needs at least one")
        check_template(body_template, "the mail body template")
        self.host, self.port, self.sender = host, port, sender
        self.to, self.cc, self.bcc = list(to), list(cc or []), list(bcc or [])
        self.subject, self.body_template, self.html = subject, body_template, html
        self.username, self.password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout
        self.debug = debug
        try:  # as Digdag does, build one message now: a bad header stops the server from starting
            self.message(Notification.now("check"))
        except (ValueError, TypeError) as e:
            raise UserInputError(f"notification.mail: cannot build a message: {e}") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSender:
        host = settings.required("notification.mail.host")
        use_ssl = settings.flag("notification.mail.ssl", False)
        port = settings.integer("notification.mail.port", 465 if use_ssl else 25, minimum=1)
        sender = settings.required("notification.mail.from")
        to = split_addresses(settings.required("notification.mail.to"))
        template = DEFAULT_BODY
        template_file = settings.get("notification.mail.body_template_file")
        if template_file:
            try:
                template = Path(template_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                raise UserInputError(f"notification.mail.body_template_file {template_file}:"
                                     f" cannot read: {reason}") from None
            check_template(template, template_file)
        return cls(host=host, port=port, sender=sender, to=to,
                   cc=split_addresses(settings.get("notification.mail.cc")),
                   bcc=split_addresses(settings.get("notification.mail.bcc")),
                   subject=settings.get("notification.mail.subject") or DEFAULT_SUBJECT,
                   body_template=template, html=settings.flag("notification.mail.html", False),
                   username=settings.get("notification.mail.username") or None,
                   password=settings.get("notification.mail.password", strip=False),
                   starttls=settings.flag("notification.mail.tls", True), use_ssl=use_ssl,
                   debug=settings.flag("notification.mail.debug", False))

    def message(self, notification: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = self.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        if self.cc:
            msg["Cc"] = ", ".join(self.cc)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].strip("<> ") or None)
        msg.set_content(render(self.body_template, notification, escape=self.html),
                        subtype="html" if self.html else "plain")
        return msg

    def send_once(self, notification: Notification) -> None:
        msg = self.message(notification)
        context = ssl.create_default_context()
        try:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context) \
                if self.use_ssl else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.debug:
                    smtp.set_debuglevel(1)  # the SMTP dialogue on stderr
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=context)
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg, to_addrs=self.to + self.cc + self.bcc)
        except (OSError, smtplib.SMTPException) as e:
            raise NotificationError(f"SMTP {self.host}:{self.port}: {type(e).__name__}: {e}") from e
