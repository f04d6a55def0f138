"""The inbox and preferences endpoints document themselves: a valid schema without drf-spectacular
warnings, and schemathesis finds no server error or schema violation against it."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

pytest.importorskip("rest_framework")  # the "api" extra (see tests/conftest.py)
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

from django_push.models.inbox import InboxItem

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("inbox/", "get"),
    ("inbox/read/", "post"),
    ("inbox/read-all/", "post"),
    ("inbox/unread-count/", "get"),
    ("inbox/{public_id}/", "get"),
    ("inbox/{public_id}/", "delete"),
    ("inbox/{public_id}/read/", "post"),
    ("preferences/", "get"),
    ("preferences/{notification_type}/", "get"),
    ("preferences/{notification_type}/", "put"),
    ("preferences/{notification_type}/", "patch"),
    ("preferences/quiet-hours/", "get"),
    ("preferences/quiet-hours/", "put"),
    ("preferences/quiet-hours/", "delete"),
}


def test_schema_is_valid_and_complete():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf="tests.compose.urls").get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors (see the captured output)"
    validate_schema(schema)
    operations = {
        (path.removeprefix("/api/push/"), method): op
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert set(operations) == OPERATIONS
    for key, op in operations.items():
        assert {"401", "403"} <= set(op["responses"]), key
        if "{" in key[0]:
            assert "404" in op["responses"], key
    assert "400" in operations[("preferences/{notification_type}/", "patch")]["responses"]


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler, without closing the test's connection after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(settings, wsgi_app):
    settings.ROOT_URLCONF = "tests.compose.urls"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    }
    user = UserFactory()
    user.set_password("pw")
    user.save()
    mine = uuid.uuid4()
    headers = {"Authorization": "Basic " + base64.b64encode(f"{user.username}:pw".encode()).decode()}
    schema = SchemaGenerator(urlconf="tests.compose.urls").get_schema(request=None, public=True)
    api = schemathesis.openapi.from_dict(schema)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    calls: dict[str, set[int]] = {}
    for result in api.get_all_operations():
        operation = result.ok()
        params: dict[str, str] = {}
        if "{public_id}" in operation.path:
            params["public_id"] = str(mine)
        if "{notification_type}" in operation.path:
            params["notification_type"] = "like"

        @given(case=operation.as_strategy(path_parameters=params or None))
        @hypothesis_settings(
            max_examples=10,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if not InboxItem.objects.filter(public_id=mine).exists():
                InboxItem.objects.create(public_id=mine, user=user, title="t")
            response = case.call_and_validate(app=wsgi_app, headers=headers, checks=checks)
            calls.setdefault(f"{case.method} {case.operation.path}", set()).add(response.status_code)

        run()

    assert len(calls) == len(OPERATIONS)
    assert calls["GET /api/push/inbox/{public_id}/"] & {200}
    assert calls["PATCH /api/push/preferences/{notification_type}/"] & {200}
