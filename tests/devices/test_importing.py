"""``importpushdevices``: rows created through django-push-notifications' and fcm-django's own models,
imported into django_push's Device table."""

import math
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

# The incumbents come with the test extra (the rule in tests/conftest.py: the bare core run skips here).
pytest.importorskip("push_notifications")
pytest.importorskip("fcm_django")

from fcm_django.models import FCMDevice
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice, WNSDevice

from django_push.devices.importing import DPN, FCM_DJANGO, import_devices
from django_push.models import Device

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
APNS_TOKEN = "ab" * 32
FCM_TOKEN = "dGVzdC10b2tlbg:APA91bHPRgkFLJu7m9ZqN0fJw-hXEz1Xb3qkK8uA_rT5sQw2ExYZ"
ENDPOINT = "https://fcm.googleapis.com/fcm/send/cNWb3Yk5Szc:APA91bF1"


def run(*args, stderr=None):
    out = StringIO()
    call_command("importpushdevices", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def dpn(*args, **kwargs):
    return run("--from", DPN, *args, **kwargs)


def backdate(model, pk, days):
    model.objects.filter(pk=pk).update(date_created=timezone.now() - timedelta(days=days))


@pytest.fixture
def dpn_rows():
    """One row of each kind django-push-notifications has, good and bad."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    rows = {
        "apns": APNSDevice.objects.create(
            registration_id=APNS_TOKEN.upper(), user=alice, name="Alice's iPhone"
        ),
        "apns_off": APNSDevice.objects.create(registration_id="cd" * 32, user=bob, active=False),
        "apns_bad": APNSDevice.objects.create(registration_id="not-a-token", user=bob),
        "fcm": GCMDevice.objects.create(
            registration_id=FCM_TOKEN, user=bob, name="Pixel", cloud_message_type="FCM"
        ),
        "gcm": GCMDevice.objects.create(registration_id="APA91" + "g" * 40, cloud_message_type="GCM"),
        "web": WebPushDevice.objects.create(registration_id=ENDPOINT, p256dh=P256DH, auth=AUTH, user=alice),
        "web_legacy": WebPushDevice.objects.create(
            registration_id="gAAAAABlegacy", browser="FIREFOX", p256dh=P256DH, auth=AUTH
        ),
        "web_ssrf": WebPushDevice.objects.create(
            registration_id="https://169.254.169.254/latest/meta-data", p256dh=P256DH, auth=AUTH
        ),
        "web_keys": WebPushDevice.objects.create(
            registration_id=ENDPOINT + "x", p256dh="not-a-key", auth=AUTH
        ),
        "wns": WNSDevice.objects.create(registration_id="https://db5.notify.windows.com/?token=x"),
    }
    backdate(APNSDevice, rows["apns"].pk, 400)
    rows["apns"].refresh_from_db()
    return rows


def test_dpn_import_copies_valid_rows_with_their_fields(dpn_rows):
    start = timezone.now()
    out = dpn()

    by_address = {d.address: d for d in Device.objects.all()}
    assert sorted(by_address) == sorted(
        [
            APNS_TOKEN,  # normalized to lower case
            "cd" * 32,
            FCM_TOKEN,
            ENDPOINT,
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABlegacy",  # completed: WP_POST_URL
        ]
    )
    iphone = by_address[APNS_TOKEN]
    assert (iphone.platform, iphone.application, iphone.owner.username) == ("apns", "default", "alice")
    assert (iphone.name, iphone.active, iphone.environment) == ("Alice's iPhone", True, "production")
    # registered_at keeps the source date; created_at is the import (the stale rule counts from it).
    assert iphone.registered_at == dpn_rows["apns"].date_created
    assert iphone.registered_at < start - timedelta(days=399)
    assert iphone.created_at >= start
    off = by_address["cd" * 32]
    assert not off.active and off.deactivated_at >= start
    assert off.deactivation_reason == "inactive in django-push-notifications when imported"
    pixel = by_address[FCM_TOKEN]
    assert (pixel.platform, pixel.owner.username, pixel.name, pixel.active) == ("fcm", "bob", "Pixel", True)
    web = by_address[ENDPOINT]
    assert (web.platform, web.owner.username, web.p256dh, web.auth) == ("webpush", "alice", P256DH, AUTH)

    assert "push_notifications.APNSDevice -> apns: 3 row(s)" in out
    assert (
        "  imported 2; already in django_push 0; duplicate address 0; invalid 1; unknown application 0" in out
    )
    assert (
        "invalid: 1 x not an APNs device token (64 hexadecimal characters) "
        f"(source ids {dpn_rows['apns_bad'].pk}):" in out
    )
    assert (
        "  imported 1; already in django_push 0; duplicate address 0; invalid 0; unknown application 0; "
        "legacy GCM 1" in out
    )
    assert (
        "  imported 2; already in django_push 0; duplicate address 0; invalid 2; unknown application 0" in out
    )
    assert "1 x Web Push endpoint refused (WEBPUSH_ALLOWED_HOSTS / SSRF rules)" in out
    assert "'169.254.169.254' is a private or reserved address" in out
    assert "1 x Web Push subscription keys unusable (p256dh / auth)" in out
    assert "1 legacy registration id(s) completed into endpoints" in out
    assert "push_notifications.WNSDevice: 1 row(s) refused. django_push has no WNS" in out
    assert out.rstrip().endswith(
        "Total: imported 5 of 10 row(s); 0 already in django_push; 5 skipped (see above)."
    )


def test_imported_hash_is_the_one_device_save_computes(dpn_rows):
    dpn()
    for device in Device.objects.all():
        stored = device.address_hash
        device.save()  # recomputes it
        assert Device.objects.get(pk=device.pk).address_hash == stored
        assert Device.objects.by_address(device.platform, device.application, device.address).get() == device


def test_second_run_imports_nothing(dpn_rows):
    dpn()
    before = sorted(Device.objects.values_list("pk", "address", "owner_id", "active"))
    out = dpn()
    assert sorted(Device.objects.values_list("pk", "address", "owner_id", "active")) == before
    assert "  imported 0; already in django_push 2; duplicate address 0; invalid 1" in out
    assert out.rstrip().endswith(
        "Total: imported 0 of 10 row(s); 5 already in django_push; 5 skipped (see above)."
    )


def test_rows_registered_meanwhile_are_picked_up_by_a_rerun(dpn_rows):
    dpn()
    APNSDevice.objects.create(registration_id="ef" * 32)
    report = import_devices(DPN)
    assert report.imported == 1
    assert Device.objects.filter(address="ef" * 32).exists()


def test_dry_run_writes_nothing_and_counts_what_the_real_run_does(dpn_rows):
    out = dpn("--dry-run")
    assert Device.objects.count() == 0
    assert out.startswith("Importing from django-push-notifications (dry run: nothing is written)")
    assert "  would import 2; already in django_push 0; duplicate address 0; invalid 1" in out
    assert out.rstrip().endswith(
        "Total: would import 5 of 10 row(s); 0 already in django_push; 5 skipped (see above)."
    )
    assert import_devices(DPN).imported == 5


def test_newest_duplicate_wins_and_the_rest_are_counted():
    old_owner, new_owner = UserFactory(), UserFactory()
    first = APNSDevice.objects.create(registration_id=APNS_TOKEN, user=old_owner, name="old")
    APNSDevice.objects.create(registration_id=APNS_TOKEN.upper(), user=new_owner, name="new")
    backdate(APNSDevice, first.pk, 30)
    for dry_run in (True, False):
        report = import_devices(DPN, dry_run=dry_run, batch_size=1)  # across batches, too
        apns = report.models[0]
        assert (apns.imported, apns.duplicates) == (1, 1)
    device = Device.objects.get()
    assert (device.owner, device.name) == (new_owner, "new")


def test_legacy_gcm_rows_only_with_include_gcm(dpn_rows):
    report = import_devices(DPN, dry_run=True)
    assert report.models[1].legacy_gcm == 1
    out = dpn("--include-gcm")
    assert "; legacy GCM" not in out.split("GCMDevice")[1].splitlines()[1]
    assert Device.objects.filter(platform="fcm", address="APA91" + "g" * 40).exists()


def test_active_only_leaves_inactive_rows_out(dpn_rows):
    dpn("--active-only")
    assert not Device.objects.filter(address="cd" * 32).exists()
    assert Device.objects.filter(address=APNS_TOKEN, active=True).exists()


def test_unconfigured_application_is_reported_not_imported():
    APNSDevice.objects.create(registration_id=APNS_TOKEN, application_id="ios-main")
    out = dpn()
    assert Device.objects.count() == 0
    assert "unknown application 1" in out
    assert (
        "1 push_notifications.APNSDevice row(s) with application id 'ios-main' were not imported: their "
        "application 'ios-main' is not configured for apns"
    ) in out
    assert "with --application-map ios-main=NAME" in out

    apps = {"ios-main": {"PLATFORM": "apns"}, "ios-kids": {"PLATFORM": "apns"}}
    with override_settings(DJANGO_PUSH={**settings.DJANGO_PUSH, "APPLICATIONS": apps}):
        dpn()
    assert Device.objects.get().application == "ios-main"


def test_rows_without_application_id_point_to_the_application_option():
    APNSDevice.objects.create(registration_id=APNS_TOKEN)
    apps = {"ios-main": {"PLATFORM": "apns"}}
    with override_settings(DJANGO_PUSH={**settings.DJANGO_PUSH, "APPLICATIONS": apps}):
        out = dpn()
        assert Device.objects.count() == 0
        assert "row(s) without an application id were not imported: their application 'default'" in out
        assert "with --application apns=NAME" in out
        dpn("--application", "apns=ios-main")
    assert Device.objects.get().application == "ios-main"


def test_application_map_and_default_application():
    APNSDevice.objects.create(registration_id=APNS_TOKEN, application_id="old-name")
    APNSDevice.objects.create(registration_id="cd" * 32)  # no application id
    apps = {"ios-main": {"PLATFORM": "apns"}, "ios-kids": {"PLATFORM": "apns"}}
    with override_settings(DJANGO_PUSH={**settings.DJANGO_PUSH, "APPLICATIONS": apps}):
        dpn("--application-map", "old-name=ios-main", "--application", "ios-kids")
    assert dict(Device.objects.values_list("address", "application")) == {
        APNS_TOKEN: "ios-main",
        "cd" * 32: "ios-kids",
    }


def test_default_application_per_platform():
    APNSDevice.objects.create(registration_id=APNS_TOKEN)
    GCMDevice.objects.create(registration_id=FCM_TOKEN)
    apps = {"ios-main": {"PLATFORM": "apns"}, "android": {"PLATFORM": "fcm"}}
    with override_settings(DJANGO_PUSH={**settings.DJANGO_PUSH, "APPLICATIONS": apps}):
        dpn("--application", "apns=ios-main", "--application", "android")
    assert dict(Device.objects.values_list("platform", "application")) == {
        "apns": "ios-main",
        "fcm": "android",
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (("--application-map", "ios-main"), "--application-map takes SOURCE=TARGET, not 'ios-main'"),
        (("--application", "apns="), "--application takes NAME or PLATFORM=NAME, not 'apns='"),
        (("--application", "wns=x"), "Unknown platform.s. wns for the default application"),
    ],
)
def test_bad_application_options_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        dpn(*args)


def test_apns_environment_follows_dpn_sandbox_settings():
    APNSDevice.objects.create(registration_id=APNS_TOKEN, application_id="beta")
    APNSDevice.objects.create(registration_id="cd" * 32, application_id="store")
    pns = {"APPLICATIONS": {"beta": {"PLATFORM": "APNS", "USE_SANDBOX": True}, "store": {"PLATFORM": "APNS"}}}
    apps = {"beta": {"PLATFORM": "apns"}, "store": {"PLATFORM": "apns"}}
    with override_settings(
        PUSH_NOTIFICATIONS_SETTINGS=pns, DJANGO_PUSH={**settings.DJANGO_PUSH, "APPLICATIONS": apps}
    ):
        dpn()
    assert dict(Device.objects.values_list("application", "environment")) == {
        "beta": "sandbox",
        "store": "production",
    }


def test_apns_environment_option_wins():
    APNSDevice.objects.create(registration_id=APNS_TOKEN)
    dpn("--apns-environment", "sandbox")
    assert Device.objects.get().environment == "sandbox"


def test_fcm_django_rows_are_fcm_whatever_their_type():
    user = UserFactory()
    for kind, suffix in (("android", "a"), ("ios", "i"), ("web", "w")):
        FCMDevice.objects.create(
            registration_id=FCM_TOKEN + suffix, type=kind, user=user, name=kind, device_id=f"dev-{kind}"
        )
    FCMDevice.objects.create(registration_id="short", type="android")
    FCMDevice.objects.create(registration_id=FCM_TOKEN + "x", type="ios", active=False)
    out = run("--from", FCM_DJANGO, "--dry-run")
    assert "fcm_django.FCMDevice -> fcm: 5 row(s)" in out
    assert "  would import 4; already in django_push 0; duplicate address 0; invalid 1" in out
    assert "1 x not an FCM registration token" in out
    assert Device.objects.count() == 0

    run("--from", FCM_DJANGO)
    devices = {d.name: d for d in Device.objects.filter(owner=user)}
    assert sorted(devices) == ["android", "ios", "web"]
    assert {(d.platform, d.application, d.active) for d in devices.values()} == {("fcm", "default", True)}
    assert devices["ios"].address == FCM_TOKEN + "i"
    assert Device.objects.get(address=FCM_TOKEN + "x").active is False
    assert "imported 0; already in django_push 4" in run("--from", FCM_DJANGO)


def test_same_token_in_both_incumbents_is_imported_once():
    GCMDevice.objects.create(registration_id=FCM_TOKEN, cloud_message_type="FCM")
    FCMDevice.objects.create(registration_id=FCM_TOKEN, type="android")
    dpn()
    assert "already in django_push 1" in run("--from", FCM_DJANGO)
    assert Device.objects.filter(address=FCM_TOKEN).count() == 1


@pytest.mark.parametrize(
    "source, app",
    [(DPN, "push_notifications"), (FCM_DJANGO, "fcm_django")],
)
def test_missing_source_app_names_what_to_add(source, app):
    without = [a for a in settings.INSTALLED_APPS if a != app]
    with override_settings(INSTALLED_APPS=without), pytest.raises(CommandError) as info:
        run("--from", source)
    assert f"add '{app}' to INSTALLED_APPS" in str(info.value)
    assert source in str(info.value)


def test_missing_backend_is_a_warning():
    APNSDevice.objects.create(registration_id=APNS_TOKEN)
    no_apns = {k: v for k, v in settings.DJANGO_PUSH["BACKENDS"].items() if k != "apns"}
    with override_settings(DJANGO_PUSH={**settings.DJANGO_PUSH, "BACKENDS": no_apns}):
        out = dpn()
    assert "Warning: DJANGO_PUSH[\"BACKENDS\"] has no 'apns' backend yet" in out
    assert Device.objects.count() == 1


def test_batches_are_set_based():
    """2,500 rows: three pages of 1,000, each one SELECT, one existence check and one bulk INSERT
    (which Django splits further only where the database limits parameters per query: SQLite)."""
    APNSDevice.objects.bulk_create(APNSDevice(registration_id=f"{n:064x}") for n in range(2500))
    with CaptureQueriesContext(connection) as queries:
        report = import_devices(DPN)
    assert report.imported == 2500 and Device.objects.count() == 2500

    def count(prefix, table):
        return sum(
            1
            for q in queries.captured_queries
            if q["sql"].startswith(prefix) and f'"{table}"' in q["sql"].split("WHERE")[0]
        )

    fields = [f for f in Device._meta.concrete_fields if not f.primary_key]
    per_insert = min(1000, connection.ops.bulk_batch_size(fields, [None] * 1000))
    expected_inserts = sum(math.ceil(n / per_insert) for n in (1000, 1000, 500))
    if connection.vendor == "postgresql":
        assert expected_inserts == 3
    assert count("INSERT", Device._meta.db_table) == expected_inserts
    assert count("SELECT", APNSDevice._meta.db_table) == 1 + 3  # COUNT(*), three pages
    assert count("SELECT", Device._meta.db_table) == 1 + 3  # the highest id, three existence checks
    assert len(queries) < 20 + expected_inserts


def test_progress_on_a_tty_only():
    class Tty(StringIO):
        def isatty(self):
            return True

    APNSDevice.objects.bulk_create(APNSDevice(registration_id=f"{n:064x}") for n in range(5))
    tty = Tty()
    dpn("--batch-size", "2", stderr=tty)
    text = tty.getvalue()
    assert "\rpush_notifications.APNSDevice: 2/5 rows (40%)" in text
    assert "\rpush_notifications.APNSDevice: 5/5 rows (100%)\n" in text
    pipe = StringIO()
    dpn(stderr=pipe)
    assert pipe.getvalue() == ""


def test_owner_model_mismatch_is_refused(monkeypatch):
    from django.contrib.auth.models import Group

    from django_push.devices import importing as devices_import

    monkeypatch.setattr(devices_import, "get_user_model", lambda: Group)
    APNSDevice.objects.create(registration_id=APNS_TOKEN)
    with pytest.raises(CommandError, match="owners cannot be copied"):
        dpn()
