"""Local secrets: values kept out of workflow files, params and logs.

    dockerflow secrets --local --set KEY=VALUE | --set KEY (asks) | --delete KEY | (list keys)

They live in `$XDG_CONFIG_HOME/dockerflow/secrets.json` (default `~/.config/...`), readable by
the user only. Tasks read them as `${secret:KEY}` in `sh>` commands, `_env` values and
`http>`/`http_call>` options (and `http.*`/`mail.*` secrets directly), never through params;
`_secrets: {prefix: other}` remaps a prefix for a subtree.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from dockerflow.errors import TaskFailure, UserInputError

SECRET_RE = re.compile(r"\$\{secret:([A-Za-z0-9_.\-]+)\}")
KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dockerflow" / "secrets.json"


class LocalSecrets:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _read(self) -> dict[str, str]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as e:
            raise UserInputError(f"cannot read secrets from {self.path}: {e}") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def keys(self) -> list[str]:
        return sorted(self._read())

    def set(self, key: str, value: str) -> None:
        if not KEY_RE.match(key):
            raise UserInputError(f"invalid secret key {key!r}: use letters, digits, _ - .")
        data = self._read()
        data[key] = value
        self._write(data)

    def delete(self, key: str) -> bool:
        data = self._read()
        if key not in data:
            return False
        del data[key]
        self._write(data)
        return True

    def values(self) -> dict[str, str]:
        return self._read()


class SecretSource(Protocol):
    """Where a worker's `${secret:KEY}` come from, per project (0: a local run's)."""

    def values(self, project_id: int) -> Mapping[str, str]: ...

    def how_to_set(self, key: str) -> str: ...  # the hint of a "Secret not found" error


class StaticSecrets:
    """The same secrets for every task: a local run's (config file and local secrets)."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def values(self, project_id: int) -> Mapping[str, str]:
        return self._values

    def how_to_set(self, key: str) -> str:
        return f"dockerflow secrets --local --set {key}"


class SecretCipher:
    """AES-GCM with a key given in base64 (16, 24 or 32 bytes; Digdag's
    `digdag.secret-encryption-key` is 16). A value is stored as base64(nonce + ciphertext)."""

    def __init__(self, key: str, source: str = "the secret encryption key") -> None:
        try:
            raw = base64.b64decode(key.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise UserInputError(f"{source} is not base64: make one with"
                                 " `head -c 16 /dev/urandom | base64`") from None
        if len(raw) not in (16, 24, 32):
            raise UserInputError(f"{source} is {len(raw)} bytes: it must be 16, 24 or 32"
                                 " (base64 of `head -c 16 /dev/urandom`)")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(raw)

    @staticmethod
    def new_key() -> str:
        return base64.b64encode(os.urandom(16)).decode("ascii")

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, value.encode("utf-8"), None)).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(token)
            return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise TaskFailure("a project secret cannot be decrypted with this process's secret"
                              " encryption key: give the server and the workers the same"
                              " digdag.secret-encryption-key") from None


KEY_SETTING = "digdag.secret-encryption-key"


def load_cipher(settings: Mapping[str, str], key_file: Path, create: bool) -> SecretCipher | None:
    """The cipher of `digdag.secret-encryption-key` in the config file's settings, else of
    `key_file` (made, readable by the user only, when `create` and it is missing), else None."""
    if KEY_SETTING in settings:
        return SecretCipher(settings[KEY_SETTING], KEY_SETTING)
    try:
        return SecretCipher(key_file.read_text(encoding="ascii"), str(key_file))
    except FileNotFoundError:
        if not create:
            return None
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = SecretCipher.new_key()
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return SecretCipher(key_file.read_text(encoding="ascii"), str(key_file))
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return SecretCipher(key, str(key_file))


class _SecretRows(Protocol):
    def secret_values(self, project_id: int) -> dict[str, str]: ...


class ProjectSecrets:
    """A server's secrets: the project's (set through the API, stored encrypted) over the
    server-wide `secrets.*` of its config file."""

    def __init__(self, store: _SecretRows, cipher: SecretCipher | None,
                 base: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.cipher = cipher
        self.base = dict(base or {})

    def values(self, project_id: int) -> Mapping[str, str]:
        rows = self.store.secret_values(project_id) if project_id else {}
        if not rows:
            return self.base
        if self.cipher is None:
            raise TaskFailure(f"project {project_id} has secrets but this process has no secret"
                              f" encryption key: set {KEY_SETTING} in its -c FILE (the"
                              " server's)")
        return {**self.base, **{k: self.cipher.decrypt(v) for k, v in rows.items()}}

    def how_to_set(self, key: str) -> str:
        return f"dockerflow secrets --project PROJECT --set {key}"


class SecretResolver:
    """Resolves `${secret:KEY}` for one task, honouring `_secrets` prefix remaps, and
    remembers what it handed out so the task's output can be masked."""

    def __init__(self, values: Mapping[str, str] | Callable[[], Mapping[str, str]],
                 remap: Mapping[str, Any] | None = None,
                 how_to_set: Callable[[str], str] | None = None) -> None:
        """`values`, or a function that reads them, called on the first look-up (most tasks
        use no secret: a server's are not read for them)."""
        self._how_to_set = how_to_set or StaticSecrets().how_to_set
        self._source = values
        self._values: Mapping[str, str] | None = None if callable(values) else values
        self._remap = {str(k): str(v) for k, v in (remap or {}).items() if isinstance(v, str)}
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        prefix, dot, rest = key.partition(".")
        return self._remap[prefix] + dot + rest if prefix in self._remap else key

    def get(self, key: str) -> str:
        value = self.find(key)
        if value is None:
            key = self._key(key)
            raise TaskFailure(f"Secret not found for key: '{key}' (set it with"
                              f" `{self._how_to_set(key)}`)")
        return value

    def find(self, key: str) -> str | None:
        """The secret `key` (after `_secrets` remaps), or None when it is not set."""
        if self._values is None:
            assert callable(self._source)
            self._values = self._source()
        value = self._values.get(self._key(key))
        if value:
            self.used.add(value)
        return value

    def resolve(self, value: Any, keys: bool = False) -> Any:
        """Replace `${secret:KEY}` in strings, recursively; `keys`: in map keys too."""
        if isinstance(value, str):
            return SECRET_RE.sub(lambda m: self.get(m.group(1)), value) if "${secret:" in value \
                else value
        if isinstance(value, Mapping):
            return {(self.resolve(k) if keys else k): self.resolve(v, keys)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, keys) for v in value]
        return value

    def mask(self, line: str) -> str:
        for secret in self.used:
            line = line.replace(secret, "***")
        return line
