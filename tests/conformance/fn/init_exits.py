"""Calls sys.exit() while being imported."""

import sys

print("init calls sys.exit")
sys.exit(2)


def handler(event: object, context: object) -> object:
    return event
