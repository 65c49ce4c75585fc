"""aiolambda: an asyncio runtime client for AWS Lambda."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
