"""Fails while being imported (init error)."""

print("init output before the failure")


def _fail() -> None:
    raise RuntimeError("init failed here")


_fail()


def handler(event: object, context: object) -> object:
    return event
