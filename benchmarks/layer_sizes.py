"""Layer sizes: what ``aiolambda layer build`` produces for each target, zipped and unzipped.

Builds the layers docs/deploy.md lists into a temporary directory, with this checkout's
aiolambda and today's wheels of its dependencies from the package index, and reports
the zip's size and the sum of the unpacked files' sizes (1 MB = 10^6 bytes), with the
wheels inside and any note the builder printed (a cross build without a strip tool for
the target ships unstripped shared objects, and says so).

Usage::

    python benchmarks/layer_sizes.py [--write]    # results/layer-sizes.{md,json}
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # aiolambda's layer builder, from this checkout

from aiolambda._layer import Target, build_layer, find_compiler  # noqa: E402

# (label, python, arch, options for build_layer)
ROWS: tuple[tuple[str, str, str, dict[str, object]], ...] = (
    ("python3.12, x86_64 (default: bytecode, lean transport)", "3.12", "x86_64", {}),
    ("python3.11, x86_64", "3.11", "x86_64", {}),
    ("python3.13, x86_64", "3.13", "x86_64", {}),
    ("python3.12, arm64", "3.12", "arm64", {}),
    ("python3.12, x86_64, `--no-bytecode`", "3.12", "x86_64", {"bytecode": False}),
    ("python3.12, x86_64, `--transport aiohttp`", "3.12", "x86_64", {"transport": "aiohttp"}),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/layer-sizes.{md,json}"
    )
    args = parser.parse_args()
    import _harness as h

    meta = h.start_meta()
    lines = [
        "| target | zipped MB | unzipped MB | wheels | builder's notes |",
        "|---|---|---|---|---|",
    ]
    data = []
    with tempfile.TemporaryDirectory(prefix="aiolambda-sizes-") as scratch:
        for index, (label, python, arch, options) in enumerate(ROWS):
            target = Target(python, arch)
            compiler = find_compiler(target) if options.get("bytecode", True) else None
            built = build_layer(
                target,
                Path(scratch) / str(index),
                compile_with=compiler,
                **options,  # type: ignore[arg-type]
            )
            notes = "; ".join(built.notes) or "-"
            lines.append(
                f"| {label} | {built.zipped_bytes / 1e6:.2f} | {built.unzipped_bytes / 1e6:.1f} "
                f"| {', '.join(built.wheels)} | {notes} |"
            )
            data.append(
                {
                    "target": label,
                    "zipped_bytes": built.zipped_bytes,
                    "unzipped_bytes": built.unzipped_bytes,
                    "wheels": list(built.wheels),
                    "notes": list(built.notes),
                    "sha256": built.sha256,
                }
            )
            h.log(f"built {label}: {built.zipped_bytes / 1e6:.2f} MB zipped")
    print("\n".join(lines))
    if args.write:
        h.write_results("layer-sizes", "Layer sizes", meta, lines, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
