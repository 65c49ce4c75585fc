"""``python -m aiolambda [HANDLER]``: run HANDLER as the Lambda runtime."""

from __future__ import annotations

import sys

from aiolambda._core.bootstrap import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
