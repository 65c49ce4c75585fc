"""Run a module's ``__main__`` under cProfile and dump the stats when it stops.

Usage: ``python _profile_wrapper.py OUT.prof MODULE [ARGS...]``. The harness
stops the process with SIGINT; the resulting KeyboardInterrupt (or a graceful
SystemExit) unwinds through ``finally``, which writes the stats. The runtime has
no profiling hook of its own, so this measures it from the outside.
"""

from __future__ import annotations

import cProfile
import runpy
import sys


def main() -> None:
    out, module, *rest = sys.argv[1:]
    sys.argv = [module, *rest]
    profile = cProfile.Profile()
    profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except KeyboardInterrupt:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
