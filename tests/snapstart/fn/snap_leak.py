"""An after-restore hook whose error message carries a credential."""

import os

from snapshot_restore_py import register_after_restore


@register_after_restore
def refresh() -> None:
    token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    raise PermissionError(f"credentials endpoint refused token {token}")


def handler(event: object, context: object) -> str:
    return "unreachable"
