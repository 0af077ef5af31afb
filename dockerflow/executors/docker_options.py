"""The `docker:` option of a task, parsed and validated (pure: no Docker, no I/O).

    parse_docker_options(raw, host_env=..., base_dir=...) -> DockerOptions
        ├── parse_run_options(list)   -> RunSettings    docker-run flags -> create() arguments
        ├── parse_build_options(list) -> BuildSettings  docker-build flags -> build parameters
        ├── parse_duration("5m")      -> 300.0
        └── parse_size("64m")         -> 67108864

Digdag's keys: image, build, build_options, pull_always, run_options, selinux, docker (the CLI
path; accepted and ignored). Ours: user, env, memory, cpus, network, pull, timeout, init, reuse.
Our explicit keys win over the same setting given in run_options. Unknown keys and unknown
flags are refused with a `DockerOptionsError` that names them: nothing is passed through as
a string to the engine.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import PurePosixPath
from typing import Any

from dockerflow import timeutil, units
from dockerflow.errors import ExecutorError


class DockerOptionsError(ExecutorError):
    """The task's `docker:` option is invalid; the message names the key or flag."""


class PullPolicy(str, Enum):
    ALWAYS = "always"
    MISSING = "missing"
    NEVER = "never"


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class GpuRequest:
    """`--gpus all` (count -1), `--gpus 2`, or `--gpus device=0,1`."""

    count: int = -1
    device_ids: tuple[str, ...] = ()


# Tasks share the host's network unless `docker: {network: ...}` (or `--network` in
# run_options) says otherwise, as act does: a CI step reaches services on localhost, and
# containers start about twice as fast as with a bridge (no veth/namespace per container;
# bench/docker_overhead.py). `network: bridge` isolates a task the way Digdag's `docker run` does.
DEFAULT_NETWORK = "host"


@dataclass
class RunSettings:
    """What `run_options` (and our own keys) ask of the container, as plain data."""

    env: dict[str, str] = field(default_factory=dict)
    binds: list[str] = field(default_factory=list)
    mem_limit: int | None = None
    memory_text: str | None = None  # as the user wrote it, for messages
    memswap_limit: int | None = None
    nano_cpus: int | None = None
    ulimits: list[Ulimit] = field(default_factory=list)
    network: str | None = None
    user: str | None = None
    shm_size: int | None = None
    gpus: GpuRequest | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)
    pids_limit: int | None = None
    hostname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)
    read_only: bool = False
    init: bool | None = None
    ipc: str | None = None


@dataclass
class BuildSettings:
    """What `build_options` ask of `docker: build:`."""

    nocache: bool = False
    pull: bool = False
    buildargs: dict[str, str] = field(default_factory=dict)
    ulimits: list[Ulimit] = field(default_factory=list)
    network: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    extra_hosts: dict[str, str] = field(default_factory=dict)
    shm_size: int | None = None
    memory: int | None = None

    def fingerprint(self) -> str:
        """A canonical text of the settings that change the built image (for the tag hash)."""
        data = asdict(self)
        data.pop("nocache")  # --no-cache changes how, not what, we build
        data.pop("pull")
        return json.dumps(data, sort_keys=True)


@dataclass
class DockerOptions:
    """A task's validated `docker:` option."""

    image: str
    build: tuple[str, ...] = ()
    build_settings: BuildSettings = field(default_factory=BuildSettings)
    pull: PullPolicy = PullPolicy.MISSING
    run: RunSettings = field(default_factory=RunSettings)
    selinux: bool = False
    user: str | None = None  # None: the invoking user's uid:gid
    timeout: float | None = None
    init: bool = True
    reuse: bool = False  # run by exec in a warm container of the attempt (docker_warm)


KNOWN_KEYS = (
    "image", "build", "build_options", "pull_always", "run_options", "selinux", "docker",
    "user", "env", "memory", "cpus", "network", "pull", "timeout", "init", "reuse",
)

# ---------------------------------------------------------------- scalar parsers

def parse_size(value: Any, what: str = "size") -> int:
    """'64m', '1g', '512MiB', 1048576 -> bytes (binary units, like the docker CLI)."""
    try:
        return units.parse_size(value, what)
    except ValueError as e:
        raise DockerOptionsError(str(e)) from None


def parse_duration(value: Any, what: str = "timeout") -> float:
    """30, '30', '30s', '5m', '1h30m', '500ms', '2d' -> seconds (> 0)."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        seconds = float(value) if isinstance(value, (int, float)) else timeutil.parse_duration(
            value, bare_seconds=True)
    except ValueError:
        raise DockerOptionsError(f"{what}: expected seconds or a duration like 30s, 5m, 1h; got {value!r}") from None
    if seconds <= 0:
        raise DockerOptionsError(f"{what}: must be positive, got {value!r}")
    return seconds


def parse_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", ""):
        return False
    raise DockerOptionsError(f"{what}: expected true or false, got {value!r}")


def parse_cpus(value: Any, what: str = "cpus") -> int:
    """'1.5' -> nano CPUs."""
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise DockerOptionsError(f"{what}: expected a number of CPUs like 1.5, got {value!r}") from None
    if cpus <= 0:
        raise DockerOptionsError(f"{what}: must be positive, got {value!r}")
    return int(cpus * 1e9)


def parse_ulimit(text: str, what: str = "--ulimit") -> Ulimit:
    """'nofile=1024:2048' or 'nproc=512'."""
    name, eq, limits = text.partition("=")
    soft_text, _, hard_text = limits.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        soft = hard = 0
        eq = ""
    if not name or not eq:
        raise DockerOptionsError(f"{what}: expected NAME=SOFT[:HARD] like nofile=1024:2048, got {text!r}")
    return Ulimit(name, soft, hard)


def _key_value(text: str, what: str, sep: str = "=") -> tuple[str, str]:
    key, found, value = text.partition(sep)
    if not key or not found:
        raise DockerOptionsError(f"{what}: expected KEY{sep}VALUE, got {text!r}")
    return key, value


def _parse_gpus(text: str) -> GpuRequest:
    text = text.strip().strip('"')
    if text == "all":
        return GpuRequest(count=-1)
    if text.isdigit():
        return GpuRequest(count=int(text))
    if text.startswith("device="):
        ids = tuple(i for i in text[len("device="):].split(",") if i)
        if ids:
            return GpuRequest(count=0, device_ids=ids)
    raise DockerOptionsError(f"--gpus: expected all, a count, or device=ID[,ID], got {text!r}")


def _parse_volume(spec: str, base_dir: str | None) -> str:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise DockerOptionsError(f"-v/--volume: expected SOURCE:TARGET[:MODE], got {spec!r}")
    source, target = parts[0], parts[1]
    if source.startswith(("./", "../")) or source in (".", ".."):
        if base_dir is None:
            raise DockerOptionsError(f"-v/--volume: relative source {source!r} needs a project folder")
        source = str(PurePosixPath(base_dir) / source)
    if not target.startswith("/"):
        raise DockerOptionsError(f"-v/--volume: the target {target!r} must be an absolute path")
    modes = parts[2].split(",") if len(parts) == 3 else ["rw"]
    bad = [m for m in modes if m not in ("ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy")]
    if bad:
        raise DockerOptionsError(f"-v/--volume: unknown mode {','.join(bad)!r} in {spec!r}")
    return ":".join([source, target, ",".join(modes)])


# ---------------------------------------------------------------- flag tables

Apply = Callable[[Any, str], None]


@dataclass(frozen=True)
class _Flag:
    name: str  # canonical long name, for messages
    takes_value: bool
    apply: Apply


def _set(attr: str, convert: Callable[[str], Any] = str) -> Apply:
    return lambda s, v: setattr(s, attr, convert(v))


def _append(attr: str, convert: Callable[[str], Any] = str) -> Apply:
    return lambda s, v: getattr(s, attr).append(convert(v))


def _put(attr: str, sep: str = "=") -> Apply:
    def apply(s: Any, v: str) -> None:
        key, value = _key_value(v, attr, sep)
        getattr(s, attr)[key] = value

    return apply


def _memory(s: RunSettings, v: str) -> None:
    s.mem_limit = parse_size(v, "--memory")
    s.memory_text = v


def _tmpfs(s: RunSettings, v: str) -> None:
    path, _, opts = v.partition(":")
    s.tmpfs[path] = opts


def _pids(s: RunSettings, v: str) -> None:
    try:
        s.pids_limit = int(v)
    except ValueError:
        raise DockerOptionsError(f"--pids-limit: expected an integer, got {v!r}") from None


def _run_flags() -> dict[str, _Flag]:
    table: list[tuple[tuple[str, ...], bool, Apply]] = [
        (("-e", "--env"), True, lambda s, v: None),  # handled specially (host env)
        (("-v", "--volume"), True, lambda s, v: None),  # handled specially (base dir)
        (("-m", "--memory"), True, _memory),
        (("--memory-swap",), True,
         _set("memswap_limit", lambda v: -1 if v == "-1" else parse_size(v, "--memory-swap"))),
        (("--cpus",), True, _set("nano_cpus", lambda v: parse_cpus(v, "--cpus"))),
        (("--ulimit",), True, _append("ulimits", parse_ulimit)),
        (("--network", "--net"), True, _set("network")),
        (("-u", "--user"), True, _set("user")),
        (("--shm-size",), True, _set("shm_size", lambda v: parse_size(v, "--shm-size"))),
        (("--gpus",), True, _set("gpus", _parse_gpus)),
        (("--add-host",), True, _put("extra_hosts", ":")),
        (("-w", "--workdir"), True, _set("workdir")),
        (("--privileged",), False, _set("privileged", lambda v: parse_bool(v, "--privileged"))),
        (("--cap-add",), True, _append("cap_add")),
        (("--cap-drop",), True, _append("cap_drop")),
        (("--security-opt",), True, _append("security_opt")),
        (("--dns",), True, _append("dns")),
        (("--tmpfs",), True, _tmpfs),
        (("--pids-limit",), True, _pids),
        (("-h", "--hostname"), True, _set("hostname")),
        (("-l", "--label"), True, _put("labels")),
        (("--device",), True, _append("devices")),
        (("--read-only",), False, _set("read_only", lambda v: parse_bool(v, "--read-only"))),
        (("--init",), False, _set("init", lambda v: parse_bool(v, "--init"))),
        (("--ipc",), True, _set("ipc")),
        (("--rm",), False, lambda s, v: None),  # containers are always removed
    ]
    return {alias: _Flag(aliases[-1], takes, apply) for aliases, takes, apply in table for alias in aliases}


def _build_flags() -> dict[str, _Flag]:
    table: list[tuple[tuple[str, ...], bool, Apply]] = [
        (("--no-cache",), False, _set("nocache", lambda v: parse_bool(v, "--no-cache"))),
        (("--pull",), False, _set("pull", lambda v: parse_bool(v, "--pull"))),
        (("--build-arg",), True, _put("buildargs")),
        (("--ulimit",), True, _append("ulimits", parse_ulimit)),
        (("--network",), True, _set("network")),
        (("--label",), True, _put("labels")),
        (("--add-host",), True, _put("extra_hosts", ":")),
        (("--shm-size",), True, _set("shm_size", lambda v: parse_size(v, "--shm-size"))),
        (("-m", "--memory"), True, _set("memory", lambda v: parse_size(v, "--memory"))),
        (("--rm", "--force-rm"), False, lambda s, v: None),  # intermediate containers are always removed
    ]
    return {alias: _Flag(aliases[-1], takes, apply) for aliases, takes, apply in table for alias in aliases}


RUN_FLAGS = _run_flags()
BUILD_FLAGS = _build_flags()


def _tokens(raw: Any, key: str) -> list[str]:
    """A list of flags; an item like '-m 1g' (one string with spaces) is split shell-style."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise DockerOptionsError(f"docker.{key}: expected a list of flags, got {type(raw).__name__}")
    out: list[str] = []
    for item in raw:
        if isinstance(item, (dict, list)) or item is None:
            raise DockerOptionsError(f"docker.{key}: expected flags as strings, got {item!r}")
        text = str(item)
        out.extend(shlex.split(text) if text.startswith("-") and " " in text.strip() else [text])
    return out


def _walk(tokens: list[str], flags: Mapping[str, _Flag], key: str, verb: str) -> list[tuple[str, _Flag, str]]:
    """Split tokens into (flag as written, flag, value); refuse unknown flags and stray words."""
    found: list[tuple[str, _Flag, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if not tok.startswith("-") or tok in ("-", "--"):
            raise DockerOptionsError(
                f"docker.{key}: unexpected argument {tok!r}: only `docker {verb}` flags go here"
            )
        if tok.startswith("--"):
            name, has_eq, value = tok.partition("=")
        else:
            name, value = tok[:2], tok[2:]
            has_eq = "=" if value else ""
            value = value.removeprefix("=")
        flag = flags.get(name)
        if flag is None:
            known = ", ".join(sorted({f for f in flags if f.startswith("--")}))
            raise DockerOptionsError(f"docker.{key}: unsupported `docker {verb}` flag {name!r} (supported: {known})")
        if flag.takes_value and not has_eq:
            if i >= len(tokens):
                raise DockerOptionsError(f"docker.{key}: flag {name} needs a value")
            value = tokens[i]
            i += 1
        elif not flag.takes_value and not has_eq:
            value = "true"
        found.append((name, flag, value))
    return found


def parse_run_options(
    raw: Any, *, host_env: Mapping[str, str] | None = None, base_dir: str | None = None
) -> RunSettings:
    """Map docker-run flags (`run_options`) onto a RunSettings; unknown flags are refused.

    `-e NAME` (without `=`) takes NAME from `host_env`, like the docker CLI; relative `-v`
    sources (`./data:/data`) are resolved against `base_dir` (the project folder).
    """
    settings = RunSettings()
    for name, flag, value in _walk(_tokens(raw, "run_options"), RUN_FLAGS, "run_options", "run"):
        if flag.name == "--env":
            key, has_eq, val = value.partition("=")
            if not key:
                raise DockerOptionsError(f"docker.run_options: {name}: expected KEY=VALUE, got {value!r}")
            if has_eq:
                settings.env[key] = val
            elif host_env is not None and key in host_env:
                settings.env[key] = host_env[key]
        elif flag.name == "--volume":
            settings.binds.append(_parse_volume(value, base_dir))
        else:
            flag.apply(settings, value)
    return settings


def parse_build_options(raw: Any) -> BuildSettings:
    """Map docker-build flags (`build_options`) onto a BuildSettings; unknown flags are refused."""
    settings = BuildSettings()
    for _name, flag, value in _walk(_tokens(raw, "build_options"), BUILD_FLAGS, "build_options", "build"):
        flag.apply(settings, value)
    return settings


def _build_lines(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, (str, int, float)) for x in raw):
        raise DockerOptionsError("docker.build: expected a list of shell command lines")
    lines = tuple(str(x).strip() for x in raw)
    if any(not line or "\n" in line for line in lines):
        raise DockerOptionsError("docker.build: each item must be one non-empty command line")
    return lines


def _user(raw: Any) -> str:
    text = str(raw).strip()
    if not text or not re.fullmatch(r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?", text):
        raise DockerOptionsError(f"docker.user: expected root, a name or uid[:gid], got {raw!r}")
    return "0" if text == "root" else text


def _pull_policy(raw: dict[str, Any]) -> PullPolicy:
    pull_always = parse_bool(raw.get("pull_always", False), "docker.pull_always")
    if "pull" not in raw:
        return PullPolicy.ALWAYS if pull_always else PullPolicy.MISSING
    try:
        policy = PullPolicy(str(raw["pull"]).strip().lower())
    except ValueError:
        raise DockerOptionsError(f"docker.pull: expected always, missing or never, got {raw['pull']!r}") from None
    if pull_always and policy is not PullPolicy.ALWAYS:
        raise DockerOptionsError(f"docker.pull_always: true contradicts docker.pull: {policy.value}")
    return policy


def parse_docker_options(
    raw: Mapping[str, Any] | None,
    *,
    host_env: Mapping[str, str] | None = None,
    base_dir: str | None = None,
) -> DockerOptions:
    """Validate a task's merged `docker:` dict into DockerOptions (raises DockerOptionsError)."""
    if not isinstance(raw, Mapping):
        raise DockerOptionsError(f"docker: expected a mapping with at least `image:`, got {raw!r}")
    data = dict(raw)
    unknown = sorted(set(data) - set(KNOWN_KEYS))
    if unknown:
        raise DockerOptionsError(f"docker: unknown key(s) {', '.join(unknown)} (known: {', '.join(KNOWN_KEYS)})")
    image = data.get("image")
    if not image or not isinstance(image, str) or not image.strip():
        raise DockerOptionsError("docker: `image:` is required (e.g. docker: {image: dockerflow/python})")
    run = parse_run_options(data.get("run_options"), host_env=host_env, base_dir=base_dir)
    env = data.get("env") or {}
    if not isinstance(env, Mapping):
        raise DockerOptionsError("docker.env: expected a mapping of NAME: value")
    run.env.update({str(k): "" if v is None else str(v) for k, v in env.items()})
    if data.get("memory") is not None:
        run.mem_limit = parse_size(data["memory"], "docker.memory")
        run.memory_text = str(data["memory"])
    if data.get("cpus") is not None:
        run.nano_cpus = parse_cpus(data["cpus"], "docker.cpus")
    if data.get("network") is not None:
        run.network = str(data["network"])
    if run.network is None:
        run.network = DEFAULT_NETWORK
    user = _user(data["user"]) if data.get("user") is not None else (_user(run.user) if run.user else None)
    init = run.init if run.init is not None else True
    if "init" in data:
        init = parse_bool(data["init"], "docker.init")
    return DockerOptions(
        image=image.strip(),
        build=_build_lines(data.get("build")),
        build_settings=parse_build_options(data.get("build_options")),
        pull=_pull_policy(data),
        run=run,
        selinux=parse_bool(data.get("selinux", False), "docker.selinux"),
        user=user,
        timeout=parse_duration(data["timeout"], "docker.timeout") if data.get("timeout") is not None else None,
        init=init,
        reuse=parse_bool(data.get("reuse", False), "docker.reuse"),
    )


def effective_timeout(*timeouts: float | None) -> float | None:
    """The smallest of the given timeouts (None = no limit)."""
    values = [t for t in timeouts if t is not None and t > 0]
    return min(values) if values else None
