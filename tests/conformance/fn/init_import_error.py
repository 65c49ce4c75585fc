"""Imports a module that does not exist (Runtime.ImportModuleError)."""

import aiolambda_conformance_no_such_module  # noqa: F401


def handler(event: object, context: object) -> object:
    return event
