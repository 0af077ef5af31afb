"""Images dockerflow ships: an offline Debian base and the runner images in the package.

    ensure_base(name)                   the base image; bootstrapped offline when missing:
        debootstrap --variant=minbase --include=python3 bookworm DIR  ->  tar  ->  /images/create
    images_dir()                        dockerflow/runner_images/ (package data, importlib.resources)
    build_runner_images(base)           every runner_images/<dir>/Dockerfile -> dockerflow/<dir>:latest
        (build arg BASE = base when it is here or can be pulled, else ensure_base())

No registry is needed: the base comes from the Debian mirror through debootstrap.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import docker
import docker.errors

from dockerflow.errors import ExecutorError
from dockerflow.executors.docker_build import build_image, context_tar
from dockerflow.executors.docker_errors import docker_errors, translate

DEFAULT_BASE = "dockerflow/debian-base:bookworm"
RUNNER_REPOSITORY = "dockerflow"
RUNNER_IMAGES = "runner_images"  # package data: dockerflow/runner_images/<name>/Dockerfile
Output = Callable[[str], None]


def images_dir() -> Traversable:
    """The runner_images/ folder shipped in the package (one sub-folder per runner image).

    A Traversable, not necessarily a real folder (the package may live in a zip): read it with
    `/` and read_text(); build_runner_images makes it a real folder for the build contexts.
    """
    return resources.files("dockerflow") / RUNNER_IMAGES


@contextmanager
def _as_folder(folder: Path | Traversable) -> Iterator[Path]:
    """`folder` as a real folder: itself when on disk, else a temporary copy (a zipped package).

    importlib.resources.as_file copies only files before Python 3.12, hence the walk here.
    """
    if isinstance(folder, Path):
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="dockerflow-images-") as tmp:
        root = Path(tmp) / folder.name

        def copy(source: Traversable, target: Path) -> None:
            if source.is_dir():
                target.mkdir()
                for child in source.iterdir():
                    copy(child, target / child.name)
            elif source.is_file():
                target.write_bytes(source.read_bytes())

        copy(folder, root)
        yield root


def _client(client: docker.DockerClient | None) -> docker.DockerClient:
    if client is not None:
        return client
    with docker_errors(doing="connecting"):
        return docker.from_env()


def _exists(api: docker.APIClient, name: str) -> bool:
    try:
        with docker_errors(api.base_url, image=name):
            api.inspect_image(name)
        return True
    except ExecutorError as exc:
        if isinstance(exc.__cause__, docker.errors.NotFound):
            return False
        raise


def _run(cmd: list[str], on_output: Output) -> None:
    """Run a host command, streaming its output; raise ExecutorError when it fails."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip("\n")
        tail = (tail + [line])[-20:]
        on_output(line)
    if proc.wait() != 0:
        raise ExecutorError(f"{' '.join(cmd[:3])} ... failed (exit {proc.returncode}):\n" + "\n".join(tail))


def ensure_base(
    name: str = DEFAULT_BASE,
    on_output: Output = print,
    *,
    client: docker.DockerClient | None = None,
    suite: str = "bookworm",
    mirror: str | None = None,
) -> str:
    """Return `name`, bootstrapping it offline (debootstrap minbase + python3) when missing."""
    client = _client(client)
    api = client.api
    if _exists(api, name):
        return name
    if shutil.which("debootstrap") is None:
        raise ExecutorError(f"image '{name}' is missing and debootstrap is not installed: apt-get install debootstrap")
    on_output(f"[base] bootstrapping {name} from Debian {suite} (debootstrap minbase + python3)")
    with tempfile.TemporaryDirectory(prefix="dockerflow-base-") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", "--include=python3", suite, str(root)]
        _run(cmd + ([mirror] if mirror else []), lambda line: on_output(f"[base] {line}"))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(root), "-cf", str(tarball), "."], on_output)
        repository, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
        on_output(f"[base] importing {name}")
        with docker_errors(api.base_url, image=name, doing=f"importing {name}"):
            api.import_image(
                src=str(tarball),
                repository=repository,
                tag=tag,
                changes=['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8", "LABEL dockerflow.image=base"],
            )
    on_output(f"[base] {name} is ready")
    return name


def _usable_base(api: docker.APIClient, client: docker.DockerClient, base: str | None, on_output: Output) -> str:
    if base is None:
        return ensure_base(on_output=on_output, client=client)
    if _exists(api, base):
        return base
    on_output(f"[images] pulling {base}")
    try:
        for chunk in api.pull(base, stream=True, decode=True):
            if "error" in chunk:
                raise docker.errors.APIError(chunk["error"])
        return base
    except docker.errors.DockerException as exc:
        reason = exc.explanation if isinstance(exc, docker.errors.APIError) else translate(exc, base_url=api.base_url)
        on_output(f"[images] cannot pull {base} ({reason}); using {DEFAULT_BASE} instead")
        return ensure_base(on_output=on_output, client=client)


def _prefixed(on_output: Output, prefix: str) -> Output:
    return lambda line: on_output(prefix + line)


def build_runner_images(
    base: str | None = None,
    on_output: Output = print,
    *,
    client: docker.DockerClient | None = None,
    folder: Path | Traversable | None = None,
) -> list[str]:
    """Build each <folder>/<dir>/Dockerfile as dockerflow/<dir>:latest; return the tags built.

    `folder` defaults to images_dir(), the runner images shipped in the package; it is made a
    real folder (a temporary copy when the package is not on disk) while the contexts are read.
    """
    client = _client(client)
    api = client.api
    with _as_folder(folder if folder is not None else images_dir()) as root:
        dirs = sorted(d for d in root.iterdir() if (d / "Dockerfile").is_file()) if root.is_dir() else []
        if not dirs:
            raise ExecutorError(f"no <image>/Dockerfile found under {root}")
        base_image = _usable_base(api, client, base, on_output)
        built: list[str] = []
        for directory in dirs:
            tag = f"{RUNNER_REPOSITORY}/{directory.name}:latest"
            on_output(f"[images] building {tag} FROM {base_image}")
            build_image(
                api,
                context=context_tar(folder=directory),
                tag=tag,
                buildargs={"BASE": base_image},
                labels={"dockerflow.image": directory.name},
                on_line=_prefixed(on_output, f"[{directory.name}] "),
            )
            built.append(tag)
    return built
