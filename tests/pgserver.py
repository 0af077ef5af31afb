"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, on loopback.

    server = PostgresServer()           # starts it (a few seconds), or raises PostgresUnavailable
    server.url                          postgresql://postgres@127.0.0.1:PORT/postgres
    server.create_database("t_1")       -> the URL of a new, empty database
    server.stop()                       stops it and removes its folder

initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user (made with
`useradd --system` when missing) and the folder is given to it. Authentication is `trust`
(loopback only) and fsync is off: a test server, not a database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


class PostgresUnavailable(Exception):
    """initdb / pg_ctl are not installed, or the server would not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(program: str) -> str | None:
    """On PATH, else in Debian's /usr/lib/postgresql/<version>/bin (the newest)."""
    found = shutil.which(program)
    if found is None:
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"),
                          key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
        found = str(versions[-1]) if versions else None
    return found


class PostgresServer:
    def __init__(self, user: str = "postgres") -> None:
        initdb, self.pg_ctl = _find("initdb"), _find("pg_ctl")
        if not initdb or not self.pg_ctl:
            raise PostgresUnavailable("initdb / pg_ctl not on PATH (install PostgreSQL 15)")
        self.as_root = os.geteuid() == 0
        self.os_user = "postgres"
        if self.as_root:
            self._ensure_os_user()
        self.folder = Path(tempfile.mkdtemp(prefix="dockerflow-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        if self.as_root:
            shutil.chown(self.folder, user=self.os_user, group=self._group())
        self.user = user
        self.port = 0
        self._started = False
        try:
            self._run([initdb, "-D", str(self.data), "-U", user, "--auth=trust", "--no-sync",
                       "-E", "UTF8", "--locale=C"])
            self._start()
        except BaseException:
            self.stop()
            raise

    # -- running as the postgres user --------------------------------------------------------
    def _ensure_os_user(self) -> None:
        if subprocess.run(["id", self.os_user], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--system", self.os_user], check=True, capture_output=True)

    def _group(self) -> str:
        out = subprocess.run(["id", "-gn", self.os_user], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.as_root:
            argv = ["runuser", "-u", self.os_user, "--", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=self.folder, timeout=120)
        if check and proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(argv)} failed ({proc.returncode}):"
                                      f" {proc.stdout}{proc.stderr}{log}")
        return proc

    def _start(self) -> None:
        last: Exception | None = None
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1"
                       f" -c unix_socket_directories={self.folder} -c fsync=off"
                       " -c synchronous_commit=off -c full_page_writes=off"
                       " -c max_connections=300")
            try:
                self._run([str(self.pg_ctl), "-D", str(self.data), "-l", str(self.log), "-w",
                           "-t", "60", "-o", options, "start"])
                self._started = True
                return
            except PostgresUnavailable as exc:
                last = exc
        raise PostgresUnavailable(str(last))

    # -- use -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._started:
            self._run([str(self.pg_ctl), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                      check=False)
            self._started = False
        shutil.rmtree(self.folder, ignore_errors=True)
