"""The OpenAPI schema: complete, valid, with examples; and schemathesis finds nothing against it."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from django_push.models import Device, Topic

from .conftest import P256DH

pytestmark = pytest.mark.django_db

PREFIX = "/api/push/"
OPERATIONS = {
    ("devices/", "get"),
    ("devices/", "post"),
    ("devices/{public_id}/", "get"),
    ("devices/{public_id}/", "patch"),
    ("devices/{public_id}/", "delete"),
    ("devices/{public_id}/topics/", "get"),
    ("devices/{public_id}/topics/", "post"),
    ("devices/{public_id}/topics/{topic}/", "delete"),
    ("topics/", "get"),
    ("webpush/subscribe/", "post"),
    ("webpush/unsubscribe/", "post"),
    ("webpush/resubscribe/", "post"),
    ("webpush/vapid-public-key/", "get"),
    ("webhooks/", "get"),
    ("webhooks/", "post"),
    ("webhooks/{public_id}/", "get"),
    ("webhooks/{public_id}/", "patch"),
    ("webhooks/{public_id}/", "delete"),
    ("webhooks/{public_id}/rotate-secret/", "post"),
    ("engagement/", "post"),
}
# The inbox and notification preferences share the API's URLs (tests/compose/test_schema.py covers them).
from tests.compose.test_schema import OPERATIONS as INBOX_OPERATIONS  # noqa: E402

OPERATIONS |= INBOX_OPERATIONS
BODILESS_POSTS = {
    ("inbox/{public_id}/read/", "post"),
    ("inbox/read-all/", "post"),
    ("webhooks/{public_id}/rotate-secret/", "post"),
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def openapi() -> dict[str, Any]:
    """Generated as a site would, but with no DEFAULT_SCHEMA_CLASS set: the views bring their own."""
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf="tests.api.urls").get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors (see the captured output)"
    return schema


def _operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path.removeprefix(PREFIX), method): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_schema_is_valid_openapi_and_has_every_endpoint(openapi):
    validate_schema(openapi)
    assert set(_operations(openapi)) == OPERATIONS


def test_every_operation_has_request_and_response_examples(openapi):
    for key, operation in _operations(openapi).items():
        if "requestBody" in operation:
            body = operation["requestBody"]["content"]["application/json"]
            assert body.get("examples"), f"{key}: no request example"
        success = [code for code in operation["responses"] if code.startswith("2")]
        examples = [
            operation["responses"][code].get("content", {}).get("application/json", {}).get("examples")
            for code in success
        ]
        assert any(examples) or success == ["204"], f"{key}: no response example"


def test_error_responses_are_documented(openapi):
    operations = _operations(openapi)
    for key, operation in operations.items():
        codes = set(operation["responses"])
        if key[1] in ("post", "patch") and key not in BODILESS_POSTS:
            assert {"400", "413"} <= codes, key
        if key[0] not in ("webpush/vapid-public-key/", "webpush/resubscribe/", "engagement/"):
            assert {"401", "403"} <= codes, key
        if "{public_id}" in key[0]:
            assert "404" in codes, key
    assert "429" in operations[("devices/", "post")]["responses"]
    assert "503" in operations[("webpush/vapid-public-key/", "get")]["responses"]


def test_anonymous_endpoints_need_no_security(openapi):
    operations = _operations(openapi)
    assert operations[("webpush/vapid-public-key/", "get")]["security"] == [{}]
    assert operations[("webpush/resubscribe/", "post")]["security"] == [{}]
    assert operations[("engagement/", "post")]["security"] == [{}]
    assert "403" in operations[("engagement/", "post")]["responses"]
    assert {} not in operations[("devices/", "get")]["security"]


def test_device_examples_never_show_a_full_token(openapi):
    device = openapi["components"]["schemas"]["Device"]
    assert "masked_token" in device["properties"]
    assert "token" not in device["properties"] and "address" not in device["properties"]


@pytest.fixture
def wsgi_app():
    """Django's real WSGI handler, without closing the test's database connection after each request
    (what Django's own test client does too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(openapi, wsgi_app, push_conf, user):
    push_conf(API_THROTTLE_RATE=None, VAPID_PUBLIC_KEY=P256DH)
    user.set_password("pw")
    user.save()
    Topic.objects.create(name="news")
    Topic.objects.create(name="vip", self_subscribe=False)
    credentials = base64.b64encode(f"{user.username}:pw".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    mine = uuid.uuid4()
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    api = schemathesis.openapi.from_dict(openapi)
    calls: dict[str, set[int]] = {}

    for result in api.get_all_operations():
        operation = result.ok()
        params = {"public_id": str(mine)} if "{public_id}" in operation.path else None

        @given(case=operation.as_strategy(path_parameters=params))
        @hypothesis_settings(
            max_examples=20,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            # A device of the caller's at the fixed id, so detail operations reach their 2xx paths.
            if not Device.objects.filter(public_id=mine).exists():
                Device.objects.create(public_id=mine, owner=user, platform="apns", address="a" * 64)
            response = case.call_and_validate(app=wsgi_app, headers=headers, checks=checks)
            calls.setdefault(f"{case.method} {case.operation.path}", set()).add(response.status_code)

        run()

    assert len(calls) == len(OPERATIONS)
    # The run reached real work, not only refusals.
    assert calls["GET /api/push/devices/{public_id}/"] & {200}
    assert calls["GET /api/push/webpush/vapid-public-key/"] == {200}
    assert calls["DELETE /api/push/devices/{public_id}/"] & {204}
