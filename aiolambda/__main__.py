"""``python -m aiolambda [HANDLER]``: run HANDLER as the Lambda runtime."""

from __future__ import annotations

import gc
import sys

if __name__ == "__main__":
    gc.disable()  # until the runtime's imports are done: the bootstrap turns it back on

from aiolambda._core.bootstrap import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
