"""S3 event notification, received as Powertools' ``S3Event`` data class.

The annotation is all it takes: aiolambda wraps the decoded event in ``S3Event`` before
calling the handler (data classes read the dict lazily: no validation cost).
Needs ``aws-lambda-powertools`` in the function's package or a layer (``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/s3_notification/requirements.txt
    aiolambda event s3 | aiolambda invoke examples/s3_notification/app.handler --event-file -
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

log = logging.getLogger("thumbnails")


async def handler(event: S3Event, context: Any) -> dict[str, Any]:
    """List the new objects: bucket, key (URL-decoded, as S3 sends it encoded) and size."""
    created = []
    for record in event.records:
        bucket, obj = record.s3.bucket.name, record.s3.get_object
        key = unquote_plus(obj.key)
        log.info("%s: s3://%s/%s", record.event_name, bucket, key)
        created.append({"bucket": bucket, "key": key, "size": obj.size})
    return {"created": created}
