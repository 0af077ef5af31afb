"""Local secrets: values kept out of workflow files, params and logs.

    dockerflow secrets --local --set KEY=VALUE | --set KEY (asks) | --delete KEY | (list keys)

They live in `$XDG_CONFIG_HOME/dockerflow/secrets.json` (default `~/.config/...`), readable by
the user only. Tasks read them as `${secret:KEY}` in `sh>` commands, `_env` values and
`http>`/`http_call>` options (and `http.*`/`mail.*` secrets directly), never through params;
`_secrets: {prefix: other}` remaps a prefix for a subtree.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


class SecretResolver:
    """Resolves `${secret:KEY}` for one task, honouring `_secrets` prefix remaps, and
    remembers what it handed out so the task's output can be masked."""

    def __init__(self, values: Mapping[str, str], remap: Mapping[str, Any] | None = None) -> None:
        self._values = values
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
                              f" `dockerflow secrets --local --set {key}`)")
        return value

    def find(self, key: str) -> str | None:
        """The secret `key` (after `_secrets` remaps), or None when it is not set."""
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
