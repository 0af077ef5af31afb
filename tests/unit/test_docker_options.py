"""Parsing and validation of the `docker:` option (no Docker needed)."""

from __future__ import annotations

import pytest

from dockerflow.errors import ExecutorError
from dockerflow.executors.docker_build import derived_dockerfile, derived_tag
from dockerflow.executors.docker_options import (
    BuildSettings,
    DockerOptionsError,
    GpuRequest,
    PullPolicy,
    Ulimit,
    effective_timeout,
    parse_build_options,
    parse_docker_options,
    parse_duration,
    parse_run_options,
    parse_size,
)
from dockerflow.executors.docker_stream import LineSplitter


def test_options_error_is_an_executor_error() -> None:
    assert issubclass(DockerOptionsError, ExecutorError)


# ---------------------------------------------------------------- required / unknown keys


def test_image_is_required() -> None:
    with pytest.raises(DockerOptionsError, match="image.*required"):
        parse_docker_options({"build": ["true"]})


@pytest.mark.parametrize("raw", [None, "python:3", ["image"]])
def test_docker_must_be_a_mapping(raw: object) -> None:
    with pytest.raises(DockerOptionsError, match="mapping"):
        parse_docker_options(raw)  # type: ignore[arg-type]


def test_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(DockerOptionsError, match="unknown key.*imagee"):
        parse_docker_options({"image": "x", "imagee": "y"})


def test_minimal_defaults() -> None:
    opts = parse_docker_options({"image": " debian "})
    assert opts.image == "debian"
    assert opts.pull is PullPolicy.MISSING
    assert opts.user is None and opts.timeout is None and opts.init is True
    assert opts.build == () and opts.selinux is False


def test_digdag_docker_cli_key_is_accepted_and_ignored() -> None:
    assert parse_docker_options({"image": "x", "docker": "/usr/bin/docker"}).image == "x"


# ---------------------------------------------------------------- pull policies


@pytest.mark.parametrize(
    ("raw", "policy"),
    [
        ({}, PullPolicy.MISSING),
        ({"pull_always": True}, PullPolicy.ALWAYS),
        ({"pull_always": "true"}, PullPolicy.ALWAYS),
        ({"pull_always": False}, PullPolicy.MISSING),
        ({"pull": "never"}, PullPolicy.NEVER),
        ({"pull": "Always"}, PullPolicy.ALWAYS),
        ({"pull": "missing", "pull_always": False}, PullPolicy.MISSING),
        ({"pull": "always", "pull_always": True}, PullPolicy.ALWAYS),
    ],
)
def test_pull_policies(raw: dict[str, object], policy: PullPolicy) -> None:
    assert parse_docker_options({"image": "x", **raw}).pull is policy


def test_bad_pull_policy() -> None:
    with pytest.raises(DockerOptionsError, match="always, missing or never"):
        parse_docker_options({"image": "x", "pull": "sometimes"})


def test_pull_always_contradicting_pull() -> None:
    with pytest.raises(DockerOptionsError, match="contradicts"):
        parse_docker_options({"image": "x", "pull_always": True, "pull": "never"})


# ---------------------------------------------------------------- durations and sizes


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("45", 45.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0),
     ("1h30m", 5400.0), ("500ms", 0.5), ("2d", 172800.0), (" 10 s ", 10.0)],
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["soon", "5x", "", "-3", 0, True, "m5"])
def test_bad_durations(raw: object) -> None:
    with pytest.raises(DockerOptionsError, match="timeout"):
        parse_duration(raw)


def test_timeout_option_and_effective_timeout() -> None:
    assert parse_docker_options({"image": "x", "timeout": "2m"}).timeout == 120.0
    assert effective_timeout(120.0, 30.0) == 30.0
    assert effective_timeout(None, 30.0) == 30.0
    assert effective_timeout(10.0, None) == 10.0
    assert effective_timeout(None, None) is None


@pytest.mark.parametrize(
    ("raw", "size"),
    [("64m", 64 * 2**20), ("1g", 2**30), ("512MiB", 512 * 2**20), ("1.5g", int(1.5 * 2**30)),
     ("100k", 102400), (4096, 4096), ("2048", 2048), ("32MB", 32 * 2**20)],
)
def test_sizes(raw: object, size: int) -> None:
    assert parse_size(raw) == size


@pytest.mark.parametrize("raw", ["lots", "12q", "", True])
def test_bad_sizes(raw: object) -> None:
    with pytest.raises(DockerOptionsError):
        parse_size(raw)


# ---------------------------------------------------------------- our keys


def test_our_keys_map_onto_run_settings() -> None:
    opts = parse_docker_options(
        {"image": "x", "memory": "64m", "cpus": 1.5, "network": "none", "env": {"A": 1, "B": None}, "user": "root"}
    )
    assert opts.run.mem_limit == 64 * 2**20 and opts.run.memory_text == "64m"
    assert opts.run.nano_cpus == 1_500_000_000
    assert opts.run.network == "none"
    assert opts.run.env == {"A": "1", "B": ""}
    assert opts.user == "0"


def test_our_keys_win_over_run_options() -> None:
    opts = parse_docker_options({"image": "x", "run_options": ["-m", "1g", "-u", "1000"], "memory": "64m", "user": "5:6"})
    assert opts.run.mem_limit == 64 * 2**20
    assert opts.user == "5:6"


def test_user_from_run_options_when_no_user_key() -> None:
    assert parse_docker_options({"image": "x", "run_options": ["--user=root"]}).user == "0"


@pytest.mark.parametrize("bad", ["", "a b", "1000:1000:1", "$(id)"])
def test_bad_user(bad: str) -> None:
    with pytest.raises(DockerOptionsError, match="docker.user"):
        parse_docker_options({"image": "x", "user": bad})


def test_env_must_be_a_mapping() -> None:
    with pytest.raises(DockerOptionsError, match="docker.env"):
        parse_docker_options({"image": "x", "env": ["A=1"]})


def test_init_and_selinux() -> None:
    opts = parse_docker_options({"image": "x", "init": False, "selinux": "true"})
    assert opts.init is False and opts.selinux is True


# ---------------------------------------------------------------- run_options


def test_run_options_full_mapping() -> None:
    run = parse_run_options(
        [
            "-e", "A=1", "--env=B=two=2", "-eC=3",
            "-v", "/data:/data:ro", "--volume", "./cache:/cache",
            "-m", "256m", "--memory-swap", "512m", "--cpus", "0.5",
            "--ulimit", "nofile=1024:2048", "--ulimit=nproc=64",
            "--network", "host", "-u", "1000:1000", "--shm-size", "1g",
            "--gpus", "all", "--add-host", "db:10.0.0.5", "-w", "/work",
            "--privileged", "--cap-add", "SYS_PTRACE", "--cap-drop=NET_RAW",
            "--security-opt", "seccomp=unconfined", "--dns", "1.1.1.1",
            "--tmpfs", "/scratch:size=64m", "--pids-limit", "100",
            "-h", "box", "-l", "team=data", "--device", "/dev/fuse",
            "--read-only", "--init", "--ipc", "host", "--rm",
        ],
        base_dir="/proj",
    )
    assert run.env == {"A": "1", "B": "two=2", "C": "3"}
    assert run.binds == ["/data:/data:ro", "/proj/cache:/cache:rw"]
    assert run.mem_limit == 256 * 2**20 and run.memory_text == "256m"
    assert run.memswap_limit == 512 * 2**20
    assert run.nano_cpus == 500_000_000
    assert run.ulimits == [Ulimit("nofile", 1024, 2048), Ulimit("nproc", 64, 64)]
    assert run.network == "host" and run.user == "1000:1000" and run.shm_size == 2**30
    assert run.gpus == GpuRequest(count=-1)
    assert run.extra_hosts == {"db": "10.0.0.5"}
    assert run.workdir == "/work"
    assert run.privileged and run.read_only and run.init
    assert run.cap_add == ["SYS_PTRACE"] and run.cap_drop == ["NET_RAW"]
    assert run.security_opt == ["seccomp=unconfined"] and run.dns == ["1.1.1.1"]
    assert run.tmpfs == {"/scratch": "size=64m"} and run.pids_limit == 100
    assert run.hostname == "box" and run.labels == {"team": "data"} and run.devices == ["/dev/fuse"]
    assert run.ipc == "host"


def test_run_options_items_with_spaces_are_split() -> None:
    run = parse_run_options(["-m 512m", "--env X='a b'"])
    assert run.mem_limit == 512 * 2**20
    assert run.env == {"X": "a b"}


def test_env_without_value_comes_from_host_env() -> None:
    run = parse_run_options(["-e", "TOKEN", "-e", "ABSENT"], host_env={"TOKEN": "s3cret"})
    assert run.env == {"TOKEN": "s3cret"}


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [("all", GpuRequest(count=-1)), ("2", GpuRequest(count=2)), ("device=0,1", GpuRequest(count=0, device_ids=("0", "1")))],
)
def test_gpus(gpus: str, expected: GpuRequest) -> None:
    assert parse_run_options(["--gpus", gpus]).gpus == expected


@pytest.mark.parametrize("flag", ["--entrypoint", "-d", "--mount", "-it", "-p", "--name", "--volumes-from"])
def test_unknown_run_flags_are_refused_by_name(flag: str) -> None:
    with pytest.raises(DockerOptionsError, match=f"unsupported `docker run` flag '{flag[:2] if flag == '-it' else flag}'"):
        parse_run_options([flag, "value"])


def test_stray_argument_is_refused() -> None:
    with pytest.raises(DockerOptionsError, match="unexpected argument 'ubuntu'"):
        parse_run_options(["--rm", "ubuntu"])


def test_missing_value_is_refused() -> None:
    with pytest.raises(DockerOptionsError, match="--memory needs a value|-m needs a value"):
        parse_run_options(["-m"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-v", "/only-one-part"], "SOURCE:TARGET"),
        (["-v", "/a:relative"], "absolute"),
        (["-v", "/a:/b:rx"], "unknown mode"),
        (["--ulimit", "nofile"], "NAME=SOFT"),
        (["--ulimit", "nofile=lots"], "NAME=SOFT"),
        (["--cpus", "many"], "number of CPUs"),
        (["--gpus", "some"], "--gpus"),
        (["--add-host", "nocolon"], "KEY:VALUE"),
        (["-e", "=x"], "KEY=VALUE"),
        (["--pids-limit", "x"], "integer"),
        (["--memory", "huge"], "size"),
    ],
)
def test_bad_run_flag_values(flags: list[str], message: str) -> None:
    with pytest.raises(DockerOptionsError, match=message):
        parse_run_options(flags)


def test_run_options_must_be_a_list_of_strings() -> None:
    with pytest.raises(DockerOptionsError, match="list of flags"):
        parse_run_options({"-m": "1g"})
    with pytest.raises(DockerOptionsError, match="strings"):
        parse_run_options([{"-m": "1g"}])


# ---------------------------------------------------------------- build and build_options


def test_build_options() -> None:
    build = parse_build_options(
        ["--no-cache", "--build-arg", "V=1", "--build-arg=W=2", "--ulimit", "nofile=100:200", "--network=host",
         "--pull", "--label", "a=b", "--add-host", "h:1.2.3.4", "--shm-size", "64m", "-m", "1g", "--force-rm"]
    )
    assert build.nocache and build.pull
    assert build.buildargs == {"V": "1", "W": "2"}
    assert build.ulimits == [Ulimit("nofile", 100, 200)]
    assert build.network == "host"
    assert build.labels == {"a": "b"} and build.extra_hosts == {"h": "1.2.3.4"}
    assert build.shm_size == 64 * 2**20 and build.memory == 2**30


@pytest.mark.parametrize("flag", ["--squash", "--platform", "-t", "--target", "-f"])
def test_unknown_build_flags_are_refused(flag: str) -> None:
    with pytest.raises(DockerOptionsError, match=f"unsupported `docker build` flag '{flag}'"):
        parse_build_options([flag, "x"])


def test_build_lines() -> None:
    opts = parse_docker_options({"image": "x", "build": ["apt-get update", "pip install pandas"]})
    assert opts.build == ("apt-get update", "pip install pandas")
    assert parse_docker_options({"image": "x", "build": "true"}).build == ("true",)
    with pytest.raises(DockerOptionsError, match="docker.build"):
        parse_docker_options({"image": "x", "build": ["ok", ""]})
    with pytest.raises(DockerOptionsError, match="docker.build"):
        parse_docker_options({"image": "x", "build": {"a": 1}})


def test_derived_dockerfile_and_tag() -> None:
    assert derived_dockerfile("sha256:abc", ["a", "b c"]) == "FROM sha256:abc\nRUN a\nRUN b c\n"
    tag = derived_tag("sha256:abc", ["a"], BuildSettings())
    assert tag.startswith("dockerflow-build:") and len(tag.split(":")[1]) == 64
    assert tag == derived_tag("sha256:abc", ["a"], BuildSettings(nocache=True))  # --no-cache: same image
    assert tag != derived_tag("sha256:abd", ["a"], BuildSettings())
    assert tag != derived_tag("sha256:abc", ["a", "b"], BuildSettings())
    assert tag != derived_tag("sha256:abc", ["a"], BuildSettings(buildargs={"V": "1"}))


# ---------------------------------------------------------------- line splitting


def test_line_splitter_keeps_partial_lines_and_decodes_split_utf8() -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    data = "héllo\r\nwor".encode() + b"ld\n\xff\n" + "€".encode()[:2]
    for i in range(len(data)):  # one byte at a time
        splitter.feed(data[i : i + 1])
    splitter.feed("€".encode()[2:] + b" end")
    splitter.close()
    assert lines == ["héllo", "world", "\ufffd", "€ end"]
