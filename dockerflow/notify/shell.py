"""notification.type = shell: `/bin/sh -c COMMAND` with the notification's JSON on stdin."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile

from dockerflow.notify.base import Notification, NotificationError, Settings

STDERR_CHARS = 200  # the end of the command's stderr quoted in a failure


class ShellSender:
    """Runs `command` in its own process group, stdin a file holding the JSON, stdout
    discarded; exit status 0 is a success. After `timeout` seconds the whole group is killed
    and the try fails. The server's environment and working directory are inherited."""

    name = "shell"

    def __init__(self, command: str, *, timeout: float = 30.0) -> None:
        self.command = command
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> ShellSender:
        timeout_ms = settings.integer("notification.shell.timeout", 30_000, minimum=1)
        return cls(settings.required("notification.shell.command"), timeout=timeout_ms / 1000)

    def send_once(self, notification: Notification) -> None:
        # files, not pipes: a command that ignores stdin, or leaves a background child holding
        # stderr open, can neither block the write nor delay the wait
        with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
            stdin.write(notification.json_bytes())
            stdin.seek(0)
            try:
                proc = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=stdin,
                                        stdout=subprocess.DEVNULL, stderr=stderr,
                                        start_new_session=True)
            except OSError as e:
                raise NotificationError(f"cannot run /bin/sh: {e}") from e
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise NotificationError(f"the command did not finish in {self.timeout:g} s and was"
                                        f" killed: {self.command}") from None
            if code != 0:
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace").strip()[-STDERR_CHARS:]
                status = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                raise NotificationError(f"the command {status}: {self.command}"
                                        + (f" (stderr: {' '.join(tail.split())})" if tail else ""))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
