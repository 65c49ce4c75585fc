"""``python -m aiolambda [HANDLER]``: run HANDLER as the Lambda runtime."""

from __future__ import annotations

import gc
import sys

if __name__ == "__main__":
    gc.disable()  # until the runtime's imports are done: the bootstrap turns it back on
    import os

    from aiolambda._core.precedence import task_root_first

    # Before the runtime imports orjson or uvloop: a function that ships its own copy
    # gets it, as under Lambda's stock runtime, and the runtime uses that copy too.
    task_root_first(os.environ)

from aiolambda._core.bootstrap import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
