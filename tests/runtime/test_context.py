import time

import pytest
from awslambdaric.lambda_context import LambdaContext

from aiolambda._core.context import ClientContext, CognitoIdentity, Context, w3c_fields


def make(**overrides: object) -> Context:
    fields: dict[str, object] = dict(
        aws_request_id="req",
        deadline_ms=int(time.time() * 1000) + 60_000,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        function_name="fn",
        function_version="$LATEST",
        memory_limit_in_mb="128",
        log_group_name="/aws/lambda/fn",
        log_stream_name="stream",
    )
    fields.update(overrides)
    return Context(**fields)  # type: ignore[arg-type]


def public_names(obj: object) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def test_every_awslambdaric_name_exists_with_the_same_kind() -> None:
    theirs = LambdaContext("req", {"client": {}, "custom": {}, "env": {}}, {}, 0, "arn", "t")
    ours = make(client_context=ClientContext({"client": {}}), tenant_id="t")
    missing = public_names(theirs) - public_names(ours)
    assert not missing
    for name in public_names(theirs):
        assert callable(getattr(theirs, name)) == callable(getattr(ours, name)), name
    assert hasattr(ours, "_epoch_deadline_time_in_ms")
    assert public_names(theirs.identity) <= public_names(ours.identity)
    assert public_names(theirs.client_context) <= public_names(ours.client_context)
    assert public_names(theirs.client_context.client) <= public_names(ours.client_context.client)


def test_types_match_awslambdaric() -> None:
    ctx = make()
    assert isinstance(ctx.memory_limit_in_mb, str)
    assert ctx.client_context is None
    assert ctx.tenant_id is None
    assert isinstance(ctx.identity, CognitoIdentity)
    assert ctx.identity.cognito_identity_id is None
    assert ctx.w3c() == {}


def test_remaining_time_counts_down_and_clamps_at_zero() -> None:
    ctx = make(deadline_ms=int(time.time() * 1000) + 5_000)
    assert 4_000 < ctx.get_remaining_time_in_millis() <= 5_000
    assert 4.0 < ctx.remaining_time() <= 5.0
    past = make(deadline_ms=int(time.time() * 1000) - 5_000)
    assert past.get_remaining_time_in_millis() == 0
    assert past.remaining_time() == 0.0


def test_identity_and_client_context_from_json_objects() -> None:
    data = {
        "client": {"installation_id": "inst", "app_title": "t", "app_package_name": "pkg"},
        "custom": {"k": "v"},
        "env": {"locale": "en"},
        "w3c": {"traceparent": "00-abc-def-01", "tracestate": 5, "other": "x"},
    }
    ctx = make(
        identity=CognitoIdentity({"cognitoIdentityId": "id1", "cognitoIdentityPoolId": "pool"}),
        client_context=ClientContext(data),
        w3c=w3c_fields(data),
    )
    assert ctx.identity.cognito_identity_id == "id1"
    assert ctx.identity.cognito_identity_pool_id == "pool"
    assert ctx.client_context is not None and ctx.client_context.client is not None
    assert ctx.client_context.client.installation_id == "inst"
    assert ctx.client_context.client.app_version_code is None
    assert ctx.client_context.custom == {"k": "v"}
    assert ctx.client_context.env == {"locale": "en"}
    assert ctx.w3c() == {"traceparent": "00-abc-def-01"}


def test_log_writes_through_the_writer_and_repr_names_fields() -> None:
    lines: list[str] = []
    ctx = make(log_writer=lines.append)
    ctx.log("hello\nworld")
    ctx.log(42)
    assert lines == ["hello\nworld", "42"]
    assert "aws_request_id=req" in repr(ctx)


def test_libraries_may_attach_attributes() -> None:
    ctx = make()
    ctx.custom_marker = 1  # type: ignore[attr-defined]
    assert ctx.custom_marker == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [None, "str", ["list"]])
def test_w3c_ignores_non_objects(value: object) -> None:
    assert w3c_fields({"w3c": value}) == {}
