"""Lambda's bounds on function settings, shared by the emulator and its command line."""

from __future__ import annotations

from typing import Final

# Lambda's MemorySize: 128 MB to 10,240 MB in 1 MB steps.
MIN_MEMORY_MB: Final = 128
MAX_MEMORY_MB: Final = 10_240
# Lambda's Timeout: at most 900 seconds (whole seconds on Lambda; the emulator also
# takes fractions, which short local tests need).
MAX_TIMEOUT_S: Final = 900
# Lambda Managed Instances' PerExecutionEnvironmentMaxConcurrency: 1 to 1,600.
MAX_CONCURRENCY: Final = 1_600
MAX_PORT: Final = 65_535
