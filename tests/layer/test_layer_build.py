"""The layer zip: layout, modes, determinism, sizes, cross-arch wheels and clear errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pytest

import aiolambda
from aiolambda import __version__
from aiolambda._layer import (
    MAX_UNZIPPED_BYTES,
    MAX_ZIPPED_BYTES,
    NEWEST_PYTHON,
    PYTHON_GLIBC,
    LayerBuild,
    LayerError,
    Limits,
    Target,
    build_layer,
    elf_machine,
    find_compiler,
    find_strip_tool,
    kept_layers_query,
    runtime_requirements,
)
from aiolambda.cli import main as cli_main

if TYPE_CHECKING:
    from collections.abc import Callable

PRUNED_SUFFIXES = {".pyc", ".pyo", ".pyx", ".pxd", ".c", ".h"}


def _mode(info: zipfile.ZipInfo) -> int:
    return stat.S_IMODE(info.external_attr >> 16)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# -- targets and requirements ------------------------------------------------------------


def test_target_parse_accepts_lambda_names_and_aliases() -> None:
    assert Target.parse("3.13", "arm64") == Target("3.13", "arm64")
    assert Target.parse("python3.12", "aarch64") == Target("3.12", "arm64")
    assert Target.parse("3.14", "amd64") == Target("3.14", "x86_64")


@pytest.mark.parametrize(
    ("python", "arch", "fragment"),
    [("3.9", "x86_64", "unsupported Python version '3.9'"), ("3.12", "sparc", "'sparc'")],
)
def test_target_parse_rejects_unknown_input(python: str, arch: str, fragment: str) -> None:
    with pytest.raises(LayerError, match=fragment) as caught:
        Target.parse(python, arch)
    assert caught.value.exit_code == 2


def test_platform_tags_stop_at_the_runtime_glibc() -> None:
    al2023 = Target("3.12", "arm64").platform_tags()
    assert al2023[0] == "manylinux_2_34_aarch64"
    assert {"manylinux_2_28_aarch64", "manylinux2014_aarch64"} <= set(al2023)
    assert all(tag.endswith("_aarch64") for tag in al2023)
    al2 = Target("3.11", "x86_64").platform_tags()
    assert al2[0] == "manylinux_2_26_x86_64"  # python3.11 runs on Amazon Linux 2
    assert "manylinux_2_28_x86_64" not in al2


def _names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("=")[0].strip().lower() for r in requirements}


def test_runtime_requirements_come_from_metadata_without_extras() -> None:
    names = _names(runtime_requirements(Target.host()))
    assert {"orjson", "uvloop"} <= names
    assert "aiohttp" not in names  # the default (lean) transport never imports it
    assert "pytest" not in names  # the dev extra stays out of the layer
    assert "aiohttp" in _names(runtime_requirements(Target.host(), "aiohttp"))


# -- the host layer ----------------------------------------------------------------------


def test_host_layer_name_layout_and_contents(host_layer: LayerBuild) -> None:
    target = host_layer.target
    expected = f"aiolambda-{__version__}-python{target.python}-{target.arch}.zip"
    assert host_layer.path.name == expected
    site = f"python/lib/python{target.python}/site-packages/"
    with zipfile.ZipFile(host_layer.path) as archive:
        names = archive.namelist()
    assert names[0] == "aiolambda"  # the exec wrapper, /opt/aiolambda once deployed
    assert all(name == "aiolambda" or name.startswith(site) for name in names)
    tops = {PurePosixPath(name[len(site) :]).parts[0] for name in names if name != "aiolambda"}
    dist_info = f"aiolambda_runtime-{__version__}.dist-info"  # the distribution's name
    assert {"aiolambda", "orjson", "uvloop", dist_info} <= tops
    assert not {"aiohttp", "multidict", "yarl", "aiosignal", "frozenlist"} & tops
    assert f"{site}aiolambda/__init__.py" in names
    assert f"{site}aiolambda/_core/bootstrap.py" in names
    # What runs on a developer's machine only stays out of the layer.
    own = {
        PurePosixPath(n[len(site) :]).parts[1] for n in names if n.startswith(f"{site}aiolambda/")
    }
    assert (
        not {"emulator", "events", "testing.py", "cli.py", "_layer.py", "_layer_cli.py", "_data"}
        & own
    )


def test_host_layer_is_pruned(host_layer: LayerBuild) -> None:
    with zipfile.ZipFile(host_layer.path) as archive:
        names = archive.namelist()
    tag = f"cpython-{host_layer.target.python.replace('.', '')}"
    offenders = [
        n
        for n in names
        if (PurePosixPath(n).suffix in PRUNED_SUFFIXES and not _compiled_here(n, tag))
        or "tests" in PurePosixPath(n).parts[:-1]
        or PurePosixPath(n).name.startswith("_testcapi")
    ]
    assert offenders == []
    assert not any(n.startswith(("bin/", "python/bin/")) for n in names)


def test_host_layer_entries_are_sorted_with_fixed_dates_and_modes(host_layer: LayerBuild) -> None:
    with zipfile.ZipFile(host_layer.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.create_system for i in infos} == {3}
    for info in infos:
        executable = info.filename == "aiolambda" or info.filename.endswith(".so")
        assert _mode(info) == (0o755 if executable else 0o644), info.filename
        assert stat.S_ISREG(info.external_attr >> 16), info.filename
    assert any(i.filename.endswith(".so") for i in infos)


def test_host_layer_is_under_lambda_limits(host_layer: LayerBuild) -> None:
    assert host_layer.zipped_bytes == host_layer.path.stat().st_size
    assert 0 < host_layer.zipped_bytes < MAX_ZIPPED_BYTES
    with zipfile.ZipFile(host_layer.path) as archive:
        unpacked = sum(i.file_size for i in archive.infolist())
    assert unpacked == host_layer.unzipped_bytes < MAX_UNZIPPED_BYTES


def test_host_layer_zip_file_gets_ordinary_permissions(host_layer: LayerBuild) -> None:
    mode = stat.S_IMODE(host_layer.path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert _leftovers(host_layer.path.parent) == [host_layer.path.name]  # no .part files


def test_host_shared_objects_are_stripped(
    host_layer: LayerBuild, tmp_path: Path, unpack_layer: Callable[[Path, Path], Path]
) -> None:
    if find_strip_tool(host_layer.target.machine) is None:
        pytest.skip(f"no strip tool for {host_layer.target.machine} on this host")
    assert host_layer.notes == ()
    uvloop_so = [s for s in host_layer.stripped if s.startswith("uvloop/loop.")]
    assert len(uvloop_so) == 1
    opt = unpack_layer(host_layer.path, tmp_path / "opt")
    site = opt / host_layer.target.site_packages
    so = site / uvloop_so[0]
    sections = subprocess.run(
        ["readelf", "-S", "-W", str(so)], capture_output=True, text=True, check=True
    ).stdout
    assert ".debug_info" not in sections
    assert ".symtab" not in sections
    assert ".dynsym" in sections  # what the dynamic loader needs is kept


def _compiled_here(name: str, tag: str) -> bool:
    """A .pyc the builder compiled: in __pycache__, for the target version."""
    path = PurePosixPath(name)
    return path.parent.name == "__pycache__" and path.name.endswith(f".{tag}.pyc")


def test_host_layer_ships_unchecked_hash_bytecode_for_every_module(host_layer: LayerBuild) -> None:
    tag = f"cpython-{host_layer.target.python.replace('.', '')}"
    with zipfile.ZipFile(host_layer.path) as archive:
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py")]
        assert len(sources) > 20
        for source in sources:
            path = PurePosixPath(source)
            pyc = f"{path.parent}/__pycache__/{path.stem}.{tag}.pyc"
            assert pyc in names, source
        for pyc in (n for n in names if n.endswith(".pyc")):
            header = archive.read(pyc)[:16]
            # PEP 552: flags bit 0 = hash-based, bit 1 = check the source; unchecked is 0b01.
            assert int.from_bytes(header[4:8], "little") == 0b01, pyc
    assert host_layer.compiled_by is not None


def test_the_shipped_bytecode_is_used_without_reading_the_sources(
    host_opt: Path, tmp_path: Path
) -> None:
    """unchecked-hash: an import never reads (or hashes) the source, nor writes a .pyc."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    opt = tmp_path / "opt"
    shutil.copytree(host_opt, opt, symlinks=True)
    site = opt / "python" / "lib" / f"python{version}" / "site-packages"
    (site / "aiolambda" / "_core" / "protocol.py").write_text("raise SystemExit('source read')\n")
    before = sorted(p.relative_to(opt) for p in opt.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-P", "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
         "from aiolambda._core import bootstrap, protocol; print(protocol.__file__)", str(site)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(site)
    assert sorted(p.relative_to(opt) for p in opt.rglob("*")) == before


def test_host_layer_packages_import_from_the_unpacked_layer(host_opt: Path) -> None:
    """The stripped extension modules still load, from the layer and not from the host."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    site = host_opt / "python" / "lib" / f"python{version}" / "site-packages"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import aiolambda, orjson, uvloop;"
        "from aiolambda._core import bootstrap;"
        "import importlib.metadata as m;"
        "print(m.version('aiolambda-runtime'));"
        "mods = (aiolambda, orjson, uvloop);"
        "print('\\n'.join(x.__file__ for x in mods))"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", code, str(site)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    version_line, *files = done.stdout.split()
    assert version_line == __version__
    assert len(files) == 3
    assert all(Path(f).is_relative_to(site) for f in files), files


# -- determinism and the CLI ----------------------------------------------------------------


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    # A snapshot of aiolambda's own files, so edits to the working tree during the
    # test cannot change the second build's input.
    snapshot = tmp_path / "aiolambda"
    shutil.copytree(Path(aiolambda.__file__).parent, snapshot)
    first = build_layer(Target.host(), tmp_path / "first", package_dir=snapshot)
    second = build_layer(Target.host(), tmp_path / "second", package_dir=snapshot)
    assert second.path.name == first.path.name
    assert second.sha256 == first.sha256
    assert second.path.read_bytes() == first.path.read_bytes()


def test_cli_build_reports_the_zip_and_prints_deploy_commands(tmp_path: Path) -> None:
    target = Target.host()
    out = tmp_path / "dist"
    done = _run_cli(
        "--python", target.python, "--arch", target.arch, "--output", str(out),
        "--function-name", "hello",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [built] = out.iterdir()
    assert built.name == f"aiolambda-{__version__}-{target.runtime}-{target.arch}.zip"
    assert "aiolambda layer: resolving wheels" in done.stderr  # progress goes to stderr
    assert f"Built {built} for {target.runtime} on {target.arch}: " in done.stdout
    assert f"sha256 {hashlib.sha256(built.read_bytes()).hexdigest()}" in done.stdout
    layer_name = f"aiolambda-{target.runtime.replace('.', '')}-{target.arch}"
    assert (
        f"LAYER_ARN=$(aws lambda publish-layer-version --layer-name {layer_name} "
        f"--zip-file fileb://{built} --compatible-runtimes {target.runtime} "
        f"--compatible-architectures {target.arch} --query LayerVersionArn --output text)"
    ) in done.stdout.splitlines()
    wrapper_env = '--environment "Variables={AWS_LAMBDA_EXEC_WRAPPER=/opt/aiolambda}"'
    kept = kept_layers_query(layer_name)  # the function's other layers stay
    assert (
        f"LAYERS=$(aws lambda get-function-configuration --function-name hello --query '{kept}' "
        "--output text) && aws lambda update-function-configuration --function-name hello "
        f'--layers $LAYERS "$LAYER_ARN" {wrapper_env}'
    ) in done.stdout.splitlines()
    assert (
        f"aws lambda create-function --function-name hello --runtime {target.runtime} "
        f"--architectures {target.arch} --handler app.handler --zip-file fileb://function.zip "
        f'--role "$ROLE_ARN" --layers "$LAYER_ARN" {wrapper_env}'
    ) in done.stdout.splitlines()


# -- cross-architecture --------------------------------------------------------------------


def test_cross_build_picked_wheels_for_the_target_cpu(cross_layer: LayerBuild) -> None:
    target = cross_layer.target
    abi = f"cp{target.python.replace('.', '')}"
    binary = [w for w in cross_layer.wheels if not w.endswith("-none-any.whl")]
    assert {w.split("-")[0].lower() for w in binary} >= {"aiohttp", "orjson", "uvloop"}
    for wheel in binary:
        platform_tag = wheel.removesuffix(".whl").split("-")[-1]
        assert platform_tag.endswith(target.machine), wheel
        assert "manylinux" in platform_tag, wheel
        assert abi in wheel or "abi3" in wheel, wheel


def test_cross_build_shared_objects_are_target_elf(
    cross_layer: LayerBuild, tmp_path: Path, unpack_layer: Callable[[Path, Path], Path]
) -> None:
    opt = unpack_layer(cross_layer.path, tmp_path / "opt")
    objects = sorted((opt / cross_layer.target.site_packages).rglob("*.so"))
    assert len(objects) >= 5
    assert {elf_machine(so) for so in objects} == {cross_layer.target.machine}
    if find_strip_tool(cross_layer.target.machine) is None:
        # The host's strip cannot handle a foreign CPU: the layer says so and keeps them.
        assert cross_layer.stripped == ()
        assert any("left unstripped" in note for note in cross_layer.notes)
    else:
        assert any(s.startswith("uvloop/") for s in cross_layer.stripped)


# -- errors: one clear message, exit code 2, no zip ---------------------------------------


def _isolated_pip_env() -> dict[str, str]:
    """This machine's pip config adds local indexes and find-links; a test needs none."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiolambda.cli", "layer", "build", *args],
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
        check=False,
    )


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("aiolambda layer: ")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--python", "2.7"], "--python '2.7': choose one of 3.11, 3.12, 3.13, 3.14"),
        (["--python", ""], "--python '': choose one of 3.11, 3.12, 3.13, 3.14"),
        (["--arch", "ppc64le"], "--arch 'ppc64le': choose one of x86_64, arm64"),
        (["--transport", "curl"], "--transport 'curl': choose one of lean, aiohttp"),
        (
            ["--no-bytecode", "--compile-with", sys.executable],
            "--compile-with and --no-bytecode: choose one",
        ),
        (
            ["--with=--index-url=http://evil"],
            "--with '--index-url=http://evil': not a package requirement "
            "(for example aws-lambda-powertools or 'boto3>=1.34')",
        ),
        (
            ["--index-url", "pypi.org/simple"],
            "--index-url 'pypi.org/simple': use an http://, https:// or file:// URL",
        ),
        (
            ["--function-name", "my function"],
            "--function-name 'my function': use 1 to 64 letters, digits, hyphens or underscores",
        ),
        (
            ["--function-name", "f" * 65],
            f"--function-name '{'f' * 65}': use 1 to 64 letters, digits, hyphens or underscores",
        ),
        (
            ["--python", "3.12", "--compile-with", sys.executable],
            f"--compile-with {sys.executable}: Python "
            f"{sys.version_info[0]}.{sys.version_info[1]}, but the layer is for Python 3.12",
        ),
        (
            ["--compile-with", "/bin/false"],
            "--compile-with /bin/false: not a working CPython interpreter, but the layer is for "
            f"Python {Target.host().python}",
        ),
    ],
)
def test_cli_rejects_bad_option_values_in_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["layer", "build", *args, "--output", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == f"aiolambda layer build: error: {message}\n"
    assert captured.out == ""
    assert _leftovers(tmp_path / "out") == []


def test_cli_without_a_reachable_index_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run_cli(
        "--output", str(out), "--index-url", "file:///nonexistent", env=_isolated_pip_env()
    )
    assert done.returncode == 2
    errors = _error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("aiolambda layer build: error: could not find ")
    assert "on the package index" in errors[0]
    assert "check the network connection and --index-url" in errors[0]
    assert done.stdout == ""
    assert _leftovers(out) == []


def test_cli_missing_wheel_for_target_names_the_package(tmp_path: Path) -> None:
    # PyYAML 5.4 predates CPython 3.12: there is no cp312 wheel to pick.
    out = tmp_path / "out"
    args = ["--python", "3.12", "--arch", "arm64", "--with", "pyyaml==5.4", "--output", str(out)]
    done = _run_cli(*args)
    assert done.returncode == 2
    errors = _error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(
        "aiolambda layer build: error: no wheel of pyyaml==5.4 for CPython 3.12 on arm64"
    ), errors
    assert _leftovers(out) == []


def test_cli_unwritable_output_fails_before_downloading(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = _run_cli("--output", str(blocker / "dist"))
    assert done.returncode == 2
    errors = _error_lines(done.stderr)
    assert errors == [
        f"aiolambda layer build: error: cannot write to output directory "
        f"{str(blocker / 'dist')!r}: Not a directory"
    ]
    assert "resolving wheels" not in done.stderr  # nothing was downloaded
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize(
    ("limits", "fragment"),
    [
        (Limits(max_unzipped_bytes=512 * 1024), "over Lambda's 0.5 MB limit for a function"),
        (Limits(max_zipped_bytes=512 * 1024), "over Lambda's 0.5 MB limit for a direct upload"),
    ],
)
def test_over_size_layer_is_refused_and_leaves_no_zip(
    limits: Limits, fragment: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(LayerError, match=fragment) as caught:
        build_layer(Target.host(), out, limits=limits)
    assert caught.value.exit_code == 2
    assert _leftovers(out) == []


# -- the default target, bytecode and transport options -------------------------------------


def test_default_python_is_this_interpreter_when_lambda_has_it() -> None:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if running not in PYTHON_GLIBC:
        pytest.skip(f"this interpreter ({running}) is not a Lambda runtime version")
    assert Target.host().python == running


def test_default_python_is_the_newest_lambda_version_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 10, 13, "final", 0))
    assert Target.host().python == NEWEST_PYTHON == "3.14"


def test_cli_help_names_the_default_python(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["layer", "build", "--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"default {Target.host().python}: this interpreter's version if Lambda has it" in (
        help_text
    )


def test_cli_without_the_target_interpreter_says_how_to_proceed(tmp_path: Path) -> None:
    others = [v for v in PYTHON_GLIBC if v != Target.host().python]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent), PYENV_ROOT=str(tmp_path))
    out = tmp_path / "out"
    done = _run_cli("--python", others[-1], "--output", str(out), env=env)
    assert done.returncode == 2
    assert _error_lines(done.stderr) == [
        f"aiolambda layer build: error: no Python {others[-1]} interpreter to compile the "
        f"layer's bytecode (python{others[-1]} is not on PATH): pass --compile-with PATH, or "
        "--no-bytecode to ship sources only (every cold start then compiles them)"
    ]
    assert "resolving wheels" not in done.stderr  # checked before any download
    assert _leftovers(out) == []


def test_no_bytecode_ships_sources_only(tmp_path: Path) -> None:
    build = build_layer(Target.host(), tmp_path, bytecode=False)
    with zipfile.ZipFile(build.path) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert f"{build.target.site_packages}/aiolambda/_core/bootstrap.py" in names
    assert build.compiled_by is None


def test_aiohttp_transport_adds_aiohttp_and_its_dependencies(tmp_path: Path) -> None:
    build = build_layer(Target.host(), tmp_path, transport="aiohttp")
    site = f"{build.target.site_packages}/"
    with zipfile.ZipFile(build.path) as archive:
        names = archive.namelist()
    tops = {PurePosixPath(n[len(site) :]).parts[0] for n in names if n.startswith(site)}
    assert {"aiohttp", "multidict", "yarl", "aiolambda", "orjson", "uvloop"} <= tops
    assert not [n for n in names if PurePosixPath(n).name.startswith("_testcapi")]
    assert f"{site}aiolambda/_core/transport_aiohttp.py" in names
    assert build.transport == "aiohttp"


def test_a_layer_for_python_3_12_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    target = Target("3.12", Target.host().arch)
    try:
        find_compiler(target)
    except LayerError:
        pytest.skip("no Python 3.12 interpreter on this machine")
    snapshot = tmp_path / "aiolambda"
    shutil.copytree(Path(aiolambda.__file__).parent, snapshot)
    first = build_layer(target, tmp_path / "first", package_dir=snapshot)
    second = build_layer(target, tmp_path / "second", package_dir=snapshot)
    assert first.compiled_by is not None
    assert second.path.read_bytes() == first.path.read_bytes()
    # The figure the cold-start work aims at (issue 13): the default layer stays small.
    assert first.zipped_bytes <= 1.5 * 1024 * 1024
