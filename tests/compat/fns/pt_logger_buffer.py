"""Powertools Logger with a log buffer: one per process, refused when invocations share it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.buffer import LoggerBufferConfig

logger = Logger(service="buffered", buffer_config=LoggerBufferConfig(max_bytes=10240))


async def handler(event: Any, context: Any) -> Any:
    logger.debug("buffered")
    logger.info("served")
    return {"rid": context.aws_request_id}
