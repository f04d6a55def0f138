"""models.sql.AnyOf: the same rows as __in, one array parameter on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_push.models import Device
from django_push.models.sql import AnyOf

from ..factories import DeviceFactory

pytestmark = pytest.mark.django_db


def test_any_of_selects_updates_and_matches_nothing_when_empty():
    devices = DeviceFactory.create_batch(5)
    chosen = [devices[0].pk, devices[3].pk, 10**12]
    assert sorted(Device.objects.filter(AnyOf("pk", chosen)).values_list("pk", flat=True)) == sorted(
        Device.objects.filter(pk__in=chosen).values_list("pk", flat=True)
    )
    assert Device.objects.filter(AnyOf("pk", chosen)).update(failure_count=7) == 2
    assert Device.objects.filter(failure_count=7).count() == 2
    with CaptureQueriesContext(connection) as queries:
        assert Device.objects.filter(AnyOf("pk", [])).update(failure_count=1) == 0
        assert list(Device.objects.filter(AnyOf("pk", []))) == []
    assert len(queries) == 0  # as __in=[]: known empty, never sent


def test_any_of_binds_one_parameter_on_postgresql():
    devices = DeviceFactory.create_batch(3)
    sql, params = Device.objects.filter(AnyOf("pk", [d.pk for d in devices])).query.sql_with_params()
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and params == ([d.pk for d in devices],)
    else:
        assert " IN (" in sql and params == tuple(d.pk for d in devices)
