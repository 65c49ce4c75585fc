"""aiobotocore against moto's server on 127.0.0.1: every invocation gets its own item back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.compat._support import N, function, invoke_all


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize(("concurrency", "count"), [(None, 20), (N, 80), (16, 300)])
async def test_aiobotocore_each_invocation_reads_its_own_item(
    moto_endpoint: str, concurrency: int | None, count: int
) -> None:
    bucket = f"items-{uuid.uuid4()}"  # the server outlives each test
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    env = {"MOTO_ENDPOINT": moto_endpoint}
    async with function("aws_clients.handler", concurrency, env) as emu:
        events = [{"bucket": bucket, "value": f"v{i}"} for i in range(count)]
        results = await invoke_all(emu, events)
    assert all(res.ok for res in results), [res.payload for res in results if not res.ok][:2]
    got = [res.json() for res in results]
    assert [doc["value"] for doc in got] == [event["value"] for event in events]
    assert {doc["key"] for doc in got} == {f"items/{res.request_id}" for res in results}
    stored = s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    assert stored == count
