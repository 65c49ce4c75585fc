"""Build the aiolambda Lambda layer: one deterministic zip per (Python, architecture).

The zip holds the exec wrapper at its root (``/opt/aiolambda`` once deployed) and,
under ``python/lib/pythonX.Y/site-packages/``, aiolambda plus its dependencies
taken from manylinux wheels for the target interpreter and CPU. Nothing here runs
on Lambda: the builder is imported only by ``aiolambda layer build``.

Steps, in order: resolve wheels with ``pip download`` (cross-platform flags, so
any host can build for any target), unpack them without running any installer
code, prune what the runtime never reads, strip shared objects when a strip tool
for the target's machine is present, compile hash-based bytecode with the target
Python's own interpreter, check Lambda's size limits, and write the zip with
sorted entries, fixed timestamps and fixed modes to a temporary file that is
renamed into place only when everything succeeded.

The layer holds only what the runtime imports: aiolambda's runtime modules,
orjson and uvloop. aiohttp (and its dependencies) goes in only for
``transport="aiohttp"``; the emulator, the test helpers, the CLI and this
builder never do (they run on a developer's machine, not on Lambda).

Bytecode: ``/opt`` is read-only on Lambda, so a layer without ``.pyc`` files
compiles every module from source at every cold start. Timestamp-based ``.pyc``
files would not match the zip's fixed dates and be ignored; ``unchecked-hash``
ones are used as they are, without reading or hashing the source (the layer
cannot change under them), and they are byte-for-byte reproducible.

See: https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

DIST_NAME: Final = "aiolambda-runtime"  # on the package index; the import name is aiolambda
WRAPPER_NAME: Final = "aiolambda"  # the wrapper's name at the layer root: /opt/aiolambda
WRAPPER_PATH: Final = f"/opt/{WRAPPER_NAME}"
EXEC_WRAPPER_ENV: Final = "AWS_LAMBDA_EXEC_WRAPPER"

# Lambda's limits for a layer uploaded directly (not through S3) and for a function
# with all its layers unpacked. See:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_ZIPPED_BYTES: Final = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES: Final = 250 * 1024 * 1024

# The glibc each managed runtime's OS provides: python3.11 runs on Amazon Linux 2
# (glibc 2.26), python3.12 and later on Amazon Linux 2023 (glibc 2.34). A wheel
# tagged manylinux_2_N loads when N is at most that.
# See: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
PYTHON_GLIBC: Final[dict[str, tuple[int, int]]] = {
    "3.11": (2, 26),
    "3.12": (2, 34),
    "3.13": (2, 34),
    "3.14": (2, 34),
}
NEWEST_PYTHON: Final = max(PYTHON_GLIBC, key=lambda v: tuple(map(int, v.split("."))))
# Lambda's architecture name -> the machine name in wheel tags and ELF headers.
ARCH_MACHINE: Final[dict[str, str]] = {"x86_64": "x86_64", "arm64": "aarch64"}
_ARCH_ALIASES: Final = {"amd64": "x86_64", "aarch64": "arm64"}

_ELF_MACHINE: Final = {62: "x86_64", 183: "aarch64"}  # e_machine values
_FIXED_DATE: Final = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip can hold
_PRUNED_SUFFIXES: Final = frozenset({".pyc", ".pyo", ".pyx", ".pxd", ".pxi", ".c", ".h"})
_PRUNED_DIRS: Final = frozenset({"__pycache__", "tests"})
_PRUNED_PREFIXES: Final = ("_testcapi",)  # e.g. multidict/_testcapi.cpython-312-….so
# aiolambda's own files that the runtime never imports (paths relative to the package).
_DEV_ONLY: Final = frozenset(
    {"emulator", "events", "testing.py", "cli.py", "_layer.py", "_layer_cli.py"}
)
_DEV_ONLY_IN_LAYER: Final = frozenset({"_data", "py.typed"})  # the wrapper goes to the root
# Runtime dependencies that only one transport imports: left out of other layers.
_TRANSPORT_ONLY: Final[dict[str, str]] = {"aiohttp": "aiohttp"}
LAYER_TRANSPORTS: Final = ("lean", "aiohttp")
_SKIPPED_DATA_DIRS: Final = frozenset({"scripts", "headers", "data"})


class LayerError(Exception):
    """A layer build failed; ``str(error)`` is the one message to show the user.

    No zip is left behind when this is raised. ``exit_code`` is 2 for bad input or
    an environment that cannot build the layer, 1 for anything unexpected.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Target:
    """A managed Lambda runtime to build for: Python ``X.Y`` on ``x86_64`` or ``arm64``."""

    python: str
    arch: str

    @classmethod
    def parse(cls, python: str, arch: str) -> Target:
        """Validate user input (``"3.12"``, ``"arm64"``) into a target, or raise LayerError."""
        version = python.removeprefix("python")
        if version not in PYTHON_GLIBC:
            known = ", ".join(PYTHON_GLIBC)
            raise LayerError(f"unsupported Python version {python!r}: choose one of {known}")
        canonical = _ARCH_ALIASES.get(arch, arch)
        if canonical not in ARCH_MACHINE:
            known = ", ".join(ARCH_MACHINE)
            raise LayerError(f"unsupported architecture {arch!r}: choose one of {known}")
        return cls(version, canonical)

    @classmethod
    def host(cls) -> Target:
        """The target matching the running interpreter and CPU.

        The running Python when it is a Lambda runtime version, else the newest one
        Lambda supports; this CPU when Lambda has it, else ``x86_64``.
        """
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        machine = platform.machine().lower()
        arch = _ARCH_ALIASES.get(machine, machine)
        return cls(
            version if version in PYTHON_GLIBC else NEWEST_PYTHON,
            arch if arch in ARCH_MACHINE else "x86_64",
        )

    @property
    def runtime(self) -> str:
        """Lambda's runtime identifier, e.g. ``python3.12``."""
        return f"python{self.python}"

    @property
    def machine(self) -> str:
        """The CPU name used in wheel tags and ELF headers (``x86_64``, ``aarch64``)."""
        return ARCH_MACHINE[self.arch]

    @property
    def site_packages(self) -> str:
        """Where the packages go inside the zip; Lambda unpacks it under ``/opt``."""
        return f"python/lib/python{self.python}/site-packages"

    def platform_tags(self) -> list[str]:
        """Every manylinux tag whose wheels load on this runtime, newest first."""
        major, newest = PYTHON_GLIBC[self.python]
        tags = [f"manylinux_{major}_{minor}_{self.machine}" for minor in range(newest, 16, -1)]
        return [*tags, f"manylinux2014_{self.machine}"]

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values as they are on the Lambda runtime (for filtering deps)."""
        full = f"{self.python}.0"
        return {
            "implementation_name": "cpython",
            "implementation_version": full,
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_system": "Linux",
            "python_full_version": full,
            "python_version": self.python,
            "sys_platform": "linux",
            "extra": "",
        }


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits checked before a zip is kept (Lambda's by default)."""

    max_zipped_bytes: int = MAX_ZIPPED_BYTES
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES


@dataclass(frozen=True, slots=True)
class LayerBuild:
    """What ``build_layer`` produced: the zip, its sizes and the wheels inside."""

    path: Path
    target: Target
    version: str
    zipped_bytes: int
    unzipped_bytes: int
    sha256: str
    wheels: tuple[str, ...]
    stripped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    transport: str = "lean"
    compiled_by: str | None = None  # the interpreter that compiled the bytecode, if any

    @property
    def layer_name(self) -> str:
        """A layer name in Powertools' style: ``aiolambda-python312-x86_64``."""
        return f"aiolambda-{self.target.runtime.replace('.', '')}-{self.target.arch}"


def _silent(message: str) -> None:
    del message


def build_layer(
    target: Target,
    output_dir: Path,
    *,
    extra_requirements: Sequence[str] = (),
    index_url: str | None = None,
    strip: bool = True,
    transport: str = "lean",
    bytecode: bool = True,
    compile_with: str | None = None,
    package_dir: Path | None = None,
    limits: Limits = Limits(),
    progress: Callable[[str], None] = _silent,
) -> LayerBuild:
    """Build the layer zip for ``target`` into ``output_dir`` and return what was built.

    ``extra_requirements`` are more PEP 508 requirements to ship in the same layer
    (for example ``aws-lambda-powertools``). ``index_url`` replaces pip's index.
    ``transport="aiohttp"`` adds aiohttp, for ``AIOLAMBDA_TRANSPORT=aiohttp``.
    ``bytecode`` ships ``unchecked-hash`` ``.pyc`` files compiled by the target
    version's interpreter: ``compile_with``, else ``pythonX.Y`` found on PATH.
    ``package_dir`` is where aiolambda's own files are copied from (default: the
    package this module belongs to).
    Raises LayerError, leaving no zip behind, on any failure.
    """
    if transport not in LAYER_TRANSPORTS:
        raise LayerError(f"transport {transport!r}: choose one of {', '.join(LAYER_TRANSPORTS)}")
    compiler = find_compiler(target, compile_with) if bytecode else None
    version = _aiolambda_version()
    final = output_dir / f"aiolambda-{version}-{target.runtime}-{target.arch}.zip"
    part = _open_part_file(output_dir, final.name)
    try:
        with tempfile.TemporaryDirectory(prefix="aiolambda-layer-") as scratch:
            wheel_dir = Path(scratch, "wheels")
            stage = Path(scratch, "layer")
            site = stage / target.site_packages
            requirements = [*runtime_requirements(target, transport), *extra_requirements]
            progress(
                f"resolving wheels for CPython {target.python} on manylinux {target.machine}: "
                + ", ".join(requirements)
            )
            wheels = download_wheels(target, requirements, wheel_dir, index_url=index_url)
            progress(f"unpacking {len(wheels)} wheels into {target.site_packages}/")
            for wheel in wheels:
                unpack_wheel(wheel, site)
            progress("adding aiolambda and the exec wrapper")
            _copy_aiolambda(package_dir or Path(__file__).resolve().parent, site, version)
            wrapper = stage / WRAPPER_NAME
            wrapper.write_bytes(_wrapper_bytes())
            stripped: list[str] = []
            notes: list[str] = []
            if strip:
                progress("stripping shared objects")
                stripped, notes = strip_shared_objects(site, target)
                for note in notes:
                    progress(f"note: {note}")
            if compiler is not None:
                progress(f"compiling bytecode with {compiler}")
                for note in compile_bytecode(site, target, compiler):
                    progress(f"note: {note}")
                    notes.append(note)
            unzipped = _tree_size(stage)
            if unzipped > limits.max_unzipped_bytes:
                raise LayerError(
                    f"the layer would unpack to {_mb(unzipped)}, over Lambda's "
                    f"{_mb(limits.max_unzipped_bytes)} limit for a function and its layers"
                )
            progress(f"writing {final.name}")
            write_deterministic_zip(stage, part)
        zipped = part.stat().st_size
        if zipped > limits.max_zipped_bytes:
            raise LayerError(
                f"the layer zip is {_mb(zipped)}, over Lambda's {_mb(limits.max_zipped_bytes)} "
                "limit for a direct upload; drop extra requirements or upload it through S3"
            )
        digest = hashlib.sha256(part.read_bytes()).hexdigest()
        os.replace(part, final)
    except BaseException as exc:  # even Ctrl-C: never leave a half-written zip behind
        part.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise LayerError(f"layer build failed: {exc}", exit_code=1) from exc
        raise
    return LayerBuild(
        path=final,
        target=target,
        version=version,
        zipped_bytes=zipped,
        unzipped_bytes=unzipped,
        sha256=digest,
        wheels=tuple(sorted(w.name for w in wheels)),
        stripped=tuple(stripped),
        notes=tuple(notes),
        transport=transport,
        compiled_by=compiler,
    )


def _aiolambda_version() -> str:
    from aiolambda import __version__

    return __version__


def _open_part_file(output_dir: Path, final_name: str) -> Path:
    """Create the temporary zip up front, so an unwritable output fails before any download."""
    # Not mkstemp: its 0o600 would survive the rename; the zip should get the umask's mode.
    part = output_dir / f".{final_name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LayerError(f"cannot write to output directory {str(output_dir)!r}: {reason}") from exc
    os.close(fd)
    return part


# -- dependencies ---------------------------------------------------------------------


def runtime_requirements(target: Target, transport: str = "lean") -> list[str]:
    """aiolambda's runtime dependencies for ``transport``, read from its installed metadata.

    Markers are evaluated for the Lambda target, not for the build host (a Windows
    host would otherwise drop uvloop); extras such as ``dev`` are left out, and so
    is a dependency only another transport imports (aiohttp, unless asked for).
    """
    try:
        declared = importlib.metadata.requires(DIST_NAME) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise LayerError(
            f"the package metadata of {DIST_NAME} is missing: install it with pip "
            f"(pip install {DIST_NAME}), not by copying files"
        ) from exc
    chosen: list[str] = []
    for requirement in declared:
        spec, _, marker = requirement.partition(";")
        needed_by = _TRANSPORT_ONLY.get(_requirement_name(spec))
        if needed_by not in (None, transport):
            continue
        if _marker_holds(marker.strip(), target):
            chosen.append(spec.strip())
    return chosen


def _requirement_name(spec: str) -> str:
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return re.sub(r"[-_.]+", "-", name.group(1)).lower() if name else ""


def _marker_holds(marker: str, target: Target) -> bool:
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:
        # packaging is not a dependency of aiolambda; without it, keep every runtime
        # requirement (Lambda is Linux/CPython, which is what the markers select anyway).
        return "extra" not in marker
    return Marker(marker).evaluate(target.marker_environment())


def download_wheels(
    target: Target,
    requirements: Sequence[str],
    dest: Path,
    *,
    index_url: str | None = None,
) -> list[Path]:
    """Download binary wheels (and their dependencies) for ``target`` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download",
        "--dest", str(dest),
        "--only-binary=:all:",
        "--implementation", "cp",
        "--python-version", target.python,
        "--progress-bar", "off",
        "--disable-pip-version-check",
        "--no-input",
    ]  # fmt: skip
    for tag in target.platform_tags():
        command += ["--platform", tag]
    if index_url is not None:
        command += ["--index-url", index_url]
    command += list(requirements)
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise LayerError(f"cannot run pip: {exc}") from exc
    if done.returncode != 0:
        raise LayerError(_explain_pip_failure(target, done.stdout + done.stderr))
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise LayerError("pip downloaded no wheels")
    return wheels


_NO_MATCH_RE: Final = re.compile(r"No matching distribution found for (\S+)")
_VERSIONS_RE: Final = re.compile(r"\(from versions: ([^)]*)\)")
_REACHED_RE: Final = re.compile(
    r"^(Collecting|Downloading|Using cached|File was already downloaded|Saved) ", re.MULTILINE
)
_NETWORK_HINTS: Final = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ProxyError",
    "ConnectTimeoutError",
    "is ignored: it is neither a file nor a directory",
)


def _explain_pip_failure(target: Target, output: str) -> str:
    """Turn pip's output into one sentence naming the cause."""
    where = f"CPython {target.python} on {target.arch} (manylinux, {target.machine})"
    missing = _NO_MATCH_RE.search(output)
    if missing is None:
        tail = [line for line in output.splitlines() if line.startswith("ERROR")][-1:]
        detail = tail[0].removeprefix("ERROR: ") if tail else "see pip's output"
        return f"pip could not download the wheels for {where}: {detail}"
    requirement = missing.group(1)
    versions = _VERSIONS_RE.search(output)
    listed = versions.group(1).strip() if versions else "none"
    reached = _REACHED_RE.search(output) is not None or listed != "none"
    if not reached:
        hint = next((h for h in _NETWORK_HINTS if h in output), None)
        why = f" ({hint})" if hint else ""
        return (
            f"could not find {requirement} on the package index{why}: check the network "
            f"connection and --index-url, or {requirement} may have no wheel for {where}"
        )
    return (
        f"no wheel of {requirement} for {where} (versions on the index: {listed}); "
        "pin a version that publishes manylinux wheels for this target"
    )


# -- staging --------------------------------------------------------------------------


def _is_pruned(parts: Sequence[str]) -> bool:
    if any(part in _PRUNED_DIRS for part in parts[:-1]):
        return True
    return parts[-1].startswith(_PRUNED_PREFIXES) or (
        PurePosixPath(parts[-1]).suffix in _PRUNED_SUFFIXES
    )


def unpack_wheel(wheel: Path, site: Path) -> None:
    """Unpack one wheel into ``site`` as an installer would, minus scripts and headers.

    No code from the wheel runs. ``<name>.data/purelib`` and ``platlib`` merge into
    site-packages; ``scripts``, ``headers`` and ``data`` are of no use in a layer.
    """
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename).parts
            if not parts or parts[0].startswith("/") or ".." in parts:
                raise LayerError(f"{wheel.name} contains an unsafe path: {info.filename!r}")
            if parts[0].endswith(".data") and len(parts) > 2:
                if parts[1] in _SKIPPED_DATA_DIRS:
                    continue
                parts = parts[2:]  # purelib/ and platlib/ go to site-packages
            if _is_pruned(parts):
                continue
            destination = site.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink)


def _copy_aiolambda(package: Path, site: Path, version: str) -> None:
    """Copy aiolambda's runtime modules plus a minimal dist-info for its version."""
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        hidden = any(part.startswith(".") for part in relative.parts)  # e.g. .DS_Store
        if hidden or not path.is_file() or _is_pruned(relative.parts):
            continue
        if relative.parts[0] in _DEV_ONLY or relative.parts[0] in _DEV_ONLY_IN_LAYER:
            continue
        destination = site / "aiolambda" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    dist_info = site / f"{DIST_NAME.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    try:
        metadata = importlib.metadata.distribution(DIST_NAME).read_text("METADATA")
    except importlib.metadata.PackageNotFoundError:
        metadata = None
    if not metadata:
        metadata = f"Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {version}\n"
    (dist_info / "METADATA").write_text(metadata, encoding="utf-8")
    (dist_info / "INSTALLER").write_text("aiolambda layer build\n", encoding="utf-8")


def _wrapper_bytes() -> bytes:
    from importlib.resources import files

    script = files("aiolambda").joinpath("_data", "exec-wrapper").read_bytes()
    # A checkout with CRLF line endings (git on Windows) would give /bin/sh a broken script.
    return script.replace(b"\r\n", b"\n")


def _tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# -- bytecode -------------------------------------------------------------------------

# Run by the target's interpreter. unchecked-hash: the .pyc is trusted without reading
# or hashing the source (the layer is read-only once deployed), and holds no timestamp.
_COMPILE_SCRIPT: Final = """\
import compileall, py_compile, sys
ok = compileall.compile_dir(
    sys.argv[1], ddir=sys.argv[2], quiet=1, workers=1,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
sys.exit(0 if ok else 3)
"""
_PROBE_SCRIPT: Final = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"


def python_version_of(interpreter: str) -> str | None:
    """``"X.Y"`` when ``interpreter`` runs and is CPython, else None."""
    try:
        done = subprocess.run(
            [interpreter, "-S", "-c", _PROBE_SCRIPT],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    name, _, version = done.stdout.strip().partition(" ")
    return version if done.returncode == 0 and name == "cpython" else None


def find_compiler(target: Target, compile_with: str | None = None) -> str:
    """The interpreter that compiles the layer's bytecode: CPython ``target.python``.

    ``compile_with`` when given, else this interpreter if it is that version, else
    ``pythonX.Y`` on PATH, else one installed by pyenv (whose shim on PATH works only
    for the versions selected in the shell). Bytecode is specific to a Python version,
    so no other version will do. Raises LayerError naming the way out.
    """
    if compile_with is not None:
        found = python_version_of(compile_with)
        if found != target.python:
            what = f"Python {found}" if found else "not a working CPython interpreter"
            raise LayerError(
                f"--compile-with {compile_with}: {what}, but the layer is for "
                f"Python {target.python}"
            )
        return compile_with
    candidates = [shutil.which(f"python{target.python}")]
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == target.python:
        candidates.insert(0, sys.executable)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv", "versions")
    installed = sorted(pyenv.glob(f"{target.python}.*/bin/python{target.python}"), reverse=True)
    candidates += [str(path) for path in installed]
    for candidate in candidates:
        if candidate and python_version_of(candidate) == target.python:
            return candidate
    raise LayerError(
        f"no Python {target.python} interpreter to compile the layer's bytecode "
        f"(python{target.python} is not on PATH): pass --compile-with PATH, or --no-bytecode "
        "to ship sources only (every cold start then compiles them)"
    )


def compile_bytecode(site: Path, target: Target, interpreter: str) -> list[str]:
    """Compile every module under ``site`` to ``unchecked-hash`` ``.pyc`` files.

    The same sources always give the same bytes: the recorded source path is the
    deployed one (``/opt/…``), not the staging directory, and a fixed hash seed keeps
    set constants in one order. Returns notes about files that did not compile
    (they still import, from source, if they are valid for the target at all).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    command = [interpreter, "-S", "-c", _COMPILE_SCRIPT, str(site), f"/opt/{target.site_packages}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise LayerError(f"cannot run {interpreter} to compile bytecode: {exc}") from exc
    if done.returncode == 3:
        failed = sorted(set(re.findall(r"\*\*\* Error compiling '([^']+)'", done.stdout)))
        return [f"{len(failed) or 'some'} files left without bytecode: " + ", ".join(failed)]
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise LayerError(
            f"compiling bytecode with {interpreter} failed: {tail[0] if tail else done.returncode}",
            exit_code=1,
        )
    return []


# -- shared objects -------------------------------------------------------------------


_SHARED_OBJECT_RE: Final = re.compile(r".+\.so(\.\d+)*")


def is_shared_object(name: str) -> bool:
    """True for ``foo.so`` and versioned ``libfoo.so.1.2`` files."""
    return _SHARED_OBJECT_RE.fullmatch(name) is not None


def elf_machine(path: Path) -> str | None:
    """The CPU an ELF file is built for (``x86_64``, ``aarch64``), or None if not ELF."""
    with path.open("rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return _ELF_MACHINE.get(code, f"elf-machine-{code}")


def _shared_objects(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and is_shared_object(path.name):
            yield path


def find_strip_tool(machine: str) -> str | None:
    """A strip program that understands ELF files for ``machine``, if one is installed.

    The host's plain ``strip`` only handles its own CPU: GNU strip refuses a foreign
    ELF, and its generic ``elf64-little`` mode writes a file with no machine type.
    So a cross-build needs the target's binutils or ``llvm-strip``.
    """
    candidates = [f"{machine}-linux-gnu-strip"]
    host = platform.machine().lower()
    if sys.platform.startswith("linux") and ARCH_MACHINE.get(_ARCH_ALIASES.get(host, host)) == (
        machine
    ):
        candidates.append("strip")
    candidates.append("llvm-strip")
    for name in candidates:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def strip_shared_objects(root: Path, target: Target) -> tuple[list[str], list[str]]:
    """Run ``strip --strip-unneeded`` on every shared object under ``root``.

    Returns (the relative paths stripped, notes about what was skipped). A file is
    replaced only when strip succeeded and the result is still an ELF file for the
    target's machine, so a failing or foreign strip can never damage the layer.
    """
    objects = [p for p in _shared_objects(root) if elf_machine(p) == target.machine]
    if not objects:
        return [], []
    tool = find_strip_tool(target.machine)
    if tool is None:
        return [], [
            f"shared objects left unstripped: no strip tool for {target.machine} on this host "
            f"(install binutils for {target.machine}-linux-gnu, or llvm, for a smaller layer)"
        ]
    stripped: list[str] = []
    failures: list[str] = []
    for path in objects:
        candidate = path.with_name(path.name + ".stripped")
        done = subprocess.run(
            [tool, "--strip-unneeded", "-o", str(candidate), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and elf_machine(candidate) == target.machine:
            os.replace(candidate, path)
            stripped.append(path.relative_to(root).as_posix())
        else:
            candidate.unlink(missing_ok=True)
            failures.append(path.name)
    notes = [f"{tool} could not strip: {', '.join(failures)}"] if failures else []
    return stripped, notes


# -- the zip --------------------------------------------------------------------------


def zip_mode(arcname: str) -> int:
    """The permission bits a layer entry gets: executables 0o755, everything else 0o644."""
    name = arcname.rsplit("/", 1)[-1]
    if arcname == WRAPPER_NAME or is_shared_object(name):
        return 0o755
    return 0o644


def _entries(stage: Path) -> Iterable[tuple[str, Path]]:
    files = (p for p in stage.rglob("*") if p.is_file())
    return sorted((p.relative_to(stage).as_posix(), p) for p in files)


def write_deterministic_zip(stage: Path, destination: Path) -> None:
    """Zip ``stage`` so that the same files always give the same bytes.

    Entries are sorted, every timestamp is 1980-01-01 and modes are fixed, so the
    zip depends only on file contents (and on the zlib version compressing them).
    Python's zipfile drops the exec bit unless the mode is put into the high 16
    bits of ``external_attr`` with a Unix ``create_system``.
    """
    with zipfile.ZipFile(destination, "w") as archive:
        for arcname, path in _entries(stage):
            info = zipfile.ZipInfo(arcname, date_time=_FIXED_DATE)
            info.create_system = 3  # Unix, so unzip honours the mode bits
            info.external_attr = (stat.S_IFREG | zip_mode(arcname)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


# -- what to run next -----------------------------------------------------------------


def kept_layers_query(layer_name: str) -> str:
    """The JMESPath query that lists a function's layer ARNs but any version of ``layer_name``.

    ``--layers`` replaces a function's whole list, so attaching this layer means
    passing the others again; an older version of this same layer is dropped (Lambda
    refuses two versions of one layer). ``not_null``: a function without layers has
    no ``Layers`` key, which ``--output text`` would print as ``None``.
    """
    return f'not_null(Layers[?!contains(Arn, `":layer:{layer_name}:"`)].Arn, `[]`)'


def deploy_commands(build: LayerBuild, function_name: str = "my-function") -> list[str]:
    """The AWS CLI commands that publish the layer and attach it to a function.

    The second one keeps the function's other layers (see ``kept_layers_query``).
    """
    runtime = build.target.runtime
    arch = build.target.arch
    wrapper = f'"Variables={{{EXEC_WRAPPER_ENV}={WRAPPER_PATH}}}"'
    return [
        f"LAYER_ARN=$(aws lambda publish-layer-version --layer-name {build.layer_name}"
        f" --zip-file fileb://{_shell_path(build.path)}"
        f" --compatible-runtimes {runtime} --compatible-architectures {arch}"
        " --query LayerVersionArn --output text)",
        f"LAYERS=$(aws lambda get-function-configuration --function-name {function_name}"
        f" --query '{kept_layers_query(build.layer_name)}' --output text)"
        f" && aws lambda update-function-configuration --function-name {function_name}"
        f' --layers $LAYERS "$LAYER_ARN" --environment {wrapper}',
        f"aws lambda create-function --function-name {function_name} --runtime {runtime}"
        f" --architectures {arch} --handler app.handler --zip-file fileb://function.zip"
        f' --role "$ROLE_ARN" --layers "$LAYER_ARN" --environment {wrapper}',
    ]


def _shell_path(path: Path) -> str:
    text = path.as_posix()
    if re.fullmatch(r"[A-Za-z0-9_./:@%+=-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"
