"""A function without hooks (never imports snapshot_restore_py)."""

import os
import sys


def handler(event: object, context: object) -> dict[str, object]:
    return {
        "registry_imported": "snapshot_restore_py" in sys.modules,
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "log_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "context_log_stream": getattr(context, "log_stream_name", None),
    }
