"""devices/ with ActivityKit tokens: push-to-start and update tokens register through the same API,
owner-scoped, validated per kind, and a newer token retires the one it replaces."""

from __future__ import annotations

import pytest

from django_push.devices import registration
from django_push.models import Device, DeviceKind

from ..factories import DeviceFactory
from .conftest import API, APNS_TOKEN, FCM_TOKEN

pytestmark = pytest.mark.django_db

DEVICES = API + "devices/"
START = "a1" * 80
START_2 = "a2" * 80
UPDATE = "b1" * 80
UPDATE_2 = "b2" * 80


def post(api, **body):
    return api.post(DEVICES, {"platform": "apns", **body}, format="json")


def test_push_to_start_and_update_tokens_register_with_their_activity(api, user):
    install = post(api, token=APNS_TOKEN).json()["id"]
    start = post(
        api, token=START, kind="liveactivity_start", activity_type="MatchAttributes", installation=install
    )
    assert start.status_code == 201, start.json()
    assert start.json()["kind"] == "liveactivity_start"
    assert start.json()["activity_type"] == "MatchAttributes"
    update = post(
        api,
        token=UPDATE.upper(),
        kind="liveactivity_update",
        activity_type="MatchAttributes",
        activity_id="A-1",
    )
    assert update.status_code == 201, update.json()
    row = Device.objects.get(kind=DeviceKind.LIVEACTIVITY_UPDATE)
    assert (row.address, row.activity_id, row.owner) == (UPDATE, "A-1", user)
    assert Device.objects.get(
        kind=DeviceKind.LIVEACTIVITY_START
    ).installation.public_id.hex == install.replace("-", "")
    listed = {d["kind"] for d in api.get(DEVICES).json()["results"]}
    assert listed == {"device", "liveactivity_start", "liveactivity_update"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": START, "kind": "liveactivity_start"}, "activity_type"),
        (
            {"token": START, "kind": "liveactivity_start", "activity_type": "A", "activity_id": "x"},
            "activity_id",
        ),
        ({"token": UPDATE, "kind": "liveactivity_update", "activity_type": "A"}, "activity_id"),
        (
            {
                "token": UPDATE,
                "kind": "liveactivity_update",
                "activity_type": "no spaces",
                "activity_id": "1",
            },
            "activity_type",
        ),
        ({"token": "zz" * 80, "kind": "liveactivity_start", "activity_type": "A"}, "token"),
        ({"token": "ab" * 20, "kind": "liveactivity_start", "activity_type": "A"}, "token"),
        ({"token": APNS_TOKEN, "activity_type": "A"}, "activity_type"),
        ({"token": START, "kind": "sometimes"}, "kind"),
        ({"platform": "fcm", "token": FCM_TOKEN, "kind": "liveactivity_start", "activity_type": "A"}, "kind"),
    ],
)
def test_bad_live_activity_registrations_are_400_naming_the_field(api, body, field):
    response = post(api, **body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Device.objects.exists()


def test_installation_must_be_the_callers_own_device(api, other_user):
    theirs = DeviceFactory(owner=other_user)
    response = post(
        api, token=START, kind="liveactivity_start", activity_type="A", installation=str(theirs.public_id)
    )
    assert response.status_code == 400 and "installation" in response.json()


def test_a_new_push_to_start_token_retires_the_old_one_of_its_install_and_type(api):
    install = post(api, token=APNS_TOKEN).json()["id"]
    for token in (START, START_2):
        post(
            api, token=token, kind="liveactivity_start", activity_type="MatchAttributes", installation=install
        )
    post(
        api,
        token="c3" * 80,
        kind="liveactivity_start",
        activity_type="DeliveryAttributes",
        installation=install,
    )
    states = dict(Device.objects.filter(kind="liveactivity_start").values_list("address", "active"))
    assert states == {START: False, START_2: True, "c3" * 80: True}
    assert Device.objects.get(address=START).deactivation_reason == "replaced by a newer Live Activity token"


def test_a_rotated_update_token_retires_the_previous_one_of_its_activity(user):
    values = {"kind": "liveactivity_update", "activity_type": "A", "activity_id": "act-1"}
    old, _ = registration.register(
        platform="apns", application="default", address=UPDATE, owner=user, values=values
    )
    registration.register(platform="apns", application="default", address=UPDATE_2, owner=user, values=values)
    old.refresh_from_db()
    assert not old.active
    assert Device.objects.get(address=UPDATE_2).active


def test_other_users_cannot_see_live_activity_tokens(api, other_api):
    post(api, token=UPDATE, kind="liveactivity_update", activity_type="A", activity_id="1")
    assert other_api.get(DEVICES).json()["results"] == []
