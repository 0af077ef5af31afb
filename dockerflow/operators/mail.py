"""mail>: send an email through SMTP (a body file evaluated with ${...}, or inline data)."""

from __future__ import annotations

import mimetypes
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext


def _addresses(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return list(value)
    raise TaskFailure(f"mail> {what} must be an address or a list of addresses")


def _smtp(ctx: OperatorContext, name: str) -> Any:
    """An SMTP setting: the secret `mail.<name>` first, then the task's options/params."""
    try:
        return ctx.secrets.get(f"mail.{name}")
    except TaskFailure:
        return ctx.option(name)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return value is True or str(value).lower() == "true"


class MailOperator:
    name: ClassVar[str] = "mail"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["mail"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        message = self._message(ctx)
        host = _smtp(ctx, "host")
        if not host:
            raise TaskFailure("mail> needs an SMTP server: set mail: {host: ..., port: ...} in"
                              " _export (or host/port on the task)")
        port = int(_smtp(ctx, "port") or (465 if _flag(_smtp(ctx, "ssl"), False) else 25))
        try:
            self._send(ctx, message, str(host), port)
        except (OSError, smtplib.SMTPException) as e:
            raise TaskFailure(f"mail> could not send through {host}:{port}: {e}") from None
        ctx.output(f"sent '{message['Subject']}' to {message['To']}")
        return TaskResult()

    def _message(self, ctx: OperatorContext) -> EmailMessage:
        command = ctx.command
        if isinstance(command, Mapping) and "data" in command:
            body = str(command["data"])
        elif isinstance(command, str) and command:
            path = ctx.workdir / command
            try:
                body = ctx.render(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise TaskFailure(f"mail> body file {command} not found (looked for {path})") \
                    from None
        else:
            raise TaskFailure("mail> needs a body file name, or {data: text}")
        to = _addresses(ctx.option("to"), "to")
        if not to:
            raise TaskFailure("mail> needs at least one recipient in 'to'")
        subject = ctx.option("subject")
        if subject is None:
            raise TaskFailure("mail> needs a subject")
        sender = ctx.option("from") or _smtp(ctx, "username")
        if not sender:
            raise TaskFailure("mail> needs 'from' (the sender's address)")
        msg = EmailMessage()
        msg["Subject"] = str(subject)
        msg["From"] = str(sender)
        msg["To"] = ", ".join(to)
        cc = _addresses(ctx.option("cc"), "cc")
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg.set_content(body, subtype="html" if _flag(ctx.option("html"), False) else "plain")
        for item in ctx.option("attach_files") or []:
            self._attach(ctx, msg, item)
        return msg

    def _attach(self, ctx: OperatorContext, msg: EmailMessage, item: Any) -> None:
        if not isinstance(item, Mapping) or "path" not in item:
            raise TaskFailure("mail> attach_files entries need a 'path'")
        path = ctx.workdir / str(item["path"])
        if not path.is_file():
            raise TaskFailure(f"mail> attachment {item['path']} not found (looked for {path})")
        ctype = item.get("content_type") or mimetypes.guess_type(path.name)[0] \
            or "application/octet-stream"
        main, _, sub = str(ctype).partition("/")
        msg.add_attachment(path.read_bytes(), maintype=main, subtype=sub or "octet-stream",
                           filename=str(item.get("filename") or Path(path).name))

    def _send(self, ctx: OperatorContext, msg: EmailMessage, host: str, port: int) -> None:
        timeout = float(ctx.option("timeout") or 30)
        use_ssl = _flag(_smtp(ctx, "ssl"), False)
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout) if use_ssl \
            else smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if _flag(ctx.option("debug"), False):
                smtp.set_debuglevel(1)
            if not use_ssl and _flag(_smtp(ctx, "tls"), True):
                smtp.starttls()
            username = _smtp(ctx, "username")
            if username:
                smtp.login(str(username), str(_smtp(ctx, "password") or ""))
            recipients = _addresses(ctx.option("to"), "to") + _addresses(ctx.option("cc"), "cc") \
                + _addresses(ctx.option("bcc"), "bcc")
            smtp.send_message(msg, to_addrs=recipients)
