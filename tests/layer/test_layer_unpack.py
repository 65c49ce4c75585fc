"""Wheel unpacking, pruning, modes and ELF detection, on small hand-made files (no network)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from aiolambda._layer import (
    LayerError,
    Target,
    elf_machine,
    is_shared_object,
    unpack_wheel,
    write_deterministic_zip,
    zip_mode,
)


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_unpack_merges_purelib_and_platlib_and_drops_the_rest(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path / "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        {
            "demo/__init__.py": b"x = 1\n",
            "demo/_speedups.c": b"/* source */",
            "demo/_speedups.h": b"/* header */",
            "demo/_speedups.pyx": b"# cython",
            "demo/_speedups.pxd": b"# cython",
            "demo/__pycache__/__init__.cpython-312.pyc": b"\0",
            "demo/tests/test_demo.py": b"def test(): pass\n",
            "demo/testing.py": b"# kept: only tests/ directories are pruned\n",
            "demo-1.0.dist-info/METADATA": b"Name: demo\n",
            "demo-1.0.data/purelib/demo_extra.py": b"y = 2\n",
            "demo-1.0.data/platlib/demo_native.so": b"\x7fELF",
            "demo-1.0.data/scripts/demo-cli": b"#!python\n",
            "demo-1.0.data/headers/demo.h": b"/* header */",
            "demo-1.0.data/data/share/demo.txt": b"data",
        },
    )
    site = tmp_path / "site"
    unpack_wheel(wheel, site)
    assert _files(site) == [
        "demo-1.0.dist-info/METADATA",
        "demo/__init__.py",
        "demo/testing.py",
        "demo_extra.py",
        "demo_native.so",
    ]
    assert (site / "demo_extra.py").read_bytes() == b"y = 2\n"


@pytest.mark.parametrize("bad", ["../escape.py", "demo/../../escape.py"])
def test_unpack_refuses_paths_outside_site_packages(tmp_path: Path, bad: str) -> None:
    wheel = _wheel(tmp_path / "evil-1.0-py3-none-any.whl", {"evil/__init__.py": b"", bad: b""})
    with pytest.raises(LayerError, match="unsafe path"):
        unpack_wheel(wheel, tmp_path / "site" / "inner")
    assert not (tmp_path / "escape.py").exists()
    assert not (tmp_path / "site" / "escape.py").exists()


def test_modes_executable_only_for_the_wrapper_and_shared_objects() -> None:
    assert zip_mode("aiolambda") == 0o755
    assert zip_mode("python/lib/python3.12/site-packages/uvloop/loop.cpython-312.so") == 0o755
    assert zip_mode("python/lib/python3.12/site-packages/x.libs/libz-1a2b.so.1.2.13") == 0o755
    assert zip_mode("python/lib/python3.12/site-packages/aiolambda/__init__.py") == 0o644
    assert zip_mode("python/lib/python3.12/site-packages/aiolambda") == 0o644  # not the root one
    assert is_shared_object("libfoo.so.1")
    assert not is_shared_object("notes.so.txt.py")
    assert not is_shared_object("socket.py")


def test_deterministic_zip_ignores_file_times_and_disk_modes(tmp_path: Path) -> None:
    def stage(root: Path, mtime: int, mode: int) -> Path:
        (root / "python" / "pkg").mkdir(parents=True)
        files = {"aiolambda": b"#!/bin/sh\n", "python/pkg/a.py": b"a", "python/b.so": b"b"}
        for name, data in files.items():
            path = root / name
            path.write_bytes(data)
            path.chmod(mode)
            os.utime(path, (mtime, mtime))
        return root

    one = stage(tmp_path / "one", 1_000_000_000, 0o600)
    two = stage(tmp_path / "two", 1_700_000_000, 0o777)
    write_deterministic_zip(one, tmp_path / "one.zip")
    write_deterministic_zip(two, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
    assert modes == {"aiolambda": 0o755, "python/b.so": 0o755, "python/pkg/a.py": 0o644}


def test_elf_machine_reads_the_header(tmp_path: Path) -> None:
    def elf(machine: int) -> Path:
        header = bytearray(64)
        header[:4] = b"\x7fELF"
        header[4] = 2  # 64-bit
        header[5] = 1  # little-endian
        header[18:20] = machine.to_bytes(2, "little")
        path = tmp_path / f"m{machine}.so"
        path.write_bytes(bytes(header))
        return path

    assert elf_machine(elf(62)) == "x86_64"
    assert elf_machine(elf(183)) == "aarch64"
    assert elf_machine(elf(40)) == "elf-machine-40"
    text = tmp_path / "not-elf.so"
    text.write_text("INPUT(-lfoo)\n")  # a linker script named .so
    assert elf_machine(text) is None
    assert Target("3.12", "arm64").machine == "aarch64"
