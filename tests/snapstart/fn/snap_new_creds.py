"""An after-restore hook that puts fresh credentials into the environment."""

import os

from snapshot_restore_py import register_after_restore

FRESH = "FRESHSECRET-restored-0123456789"


@register_after_restore
def fetch_credentials() -> None:
    os.environ["AWS_SESSION_TOKEN"] = FRESH


def handler(event: object, context: object) -> None:
    print(f"using {os.environ['AWS_SESSION_TOKEN']}")
    raise RuntimeError(f"denied for token {os.environ['AWS_SESSION_TOKEN']}")
