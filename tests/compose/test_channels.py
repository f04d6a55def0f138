"""E-mail and SMS addresses, per-channel preferences and quiet hours, the e-mail renderer and
backend, unsubscribe links and the bounce hook."""

from __future__ import annotations

import smtplib
from datetime import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail, signing
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from django_push import testing
from django_push.compose.send import send as typed_send
from django_push.devices import channels
from django_push.models import (
    Delivery,
    Device,
    Notification,
    NotificationPreference,
    QuietHours,
    Subscription,
    Topic,
)
from django_push.results import DeliveryStatus
from django_push.validation import validate_phone_number

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONES: dict[int, str] = {}
LOCMEM = {"BACKEND": "django_push.backends.locmem.LocmemBackend"}


def phone_for(user: Any) -> str | None:
    """The PHONE_NUMBER_RESOLVER of these tests."""
    return PHONES.get(user.pk)


@pytest.fixture(autouse=True)
def _channels(push_conf: Any, settings: Any) -> None:
    PHONES.clear()
    backends = {**settings.DJANGO_PUSH["BACKENDS"], "sms": LOCMEM, "webhook": LOCMEM}
    push_conf(
        BACKENDS=backends,
        PHONE_NUMBER_RESOLVER="tests.compose.test_channels.phone_for",
        SITE_URL="https://example.com",
        NOTIFICATION_TYPES={
            "news": {"channels": ["push", "email", "sms"]},
            "mail_only": {"channels": ["email"], "priority": "low"},
        },
    )


def send(kind: str, to: Any, **kwargs: Any) -> Notification:
    with transaction.atomic():
        notification = typed_send(kind, to=to, title=kwargs.pop("title", "Hello"), body="World", **kwargs)
    notification.refresh_from_db()
    return notification


def test_phone_numbers_are_normalized_to_e164_or_refused_with_an_example():
    assert validate_phone_number("+1 (415) 555-0123") == "+14155550123"
    assert validate_phone_number("0033 6 12 34 56 78") == "+33612345678"
    with pytest.raises(ValidationError, match=r"E\.164.*\+14155550123"):
        validate_phone_number("06 12 34 56 78")
    with pytest.raises(ValidationError):
        validate_phone_number("+0123456789")


def test_addresses_are_synced_at_planning_and_a_user_without_one_is_skipped():
    has_all = UserFactory(email="ada@example.com")
    no_email = UserFactory(email="")
    PHONES[has_all.pk] = "+44 20 7946 0000"
    n = send("news", [has_all, no_email])
    email = Device.objects.get(platform="email", owner=has_all)
    sms = Device.objects.get(platform="sms", owner=has_all)
    assert (email.address, sms.address) == ("ada@example.com", "+442079460000")
    assert not Device.objects.filter(owner=no_email).exists()
    # no_email has neither address: two channels skipped; the totals still add up and it finishes.
    assert (n.targeted, n.sent, n.skipped, n.status) == (4, 2, 2, "done")
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert [e.target.address for e in testing.outbox if e.platform == "sms"] == ["+442079460000"]


def test_an_everyone_audience_mails_users_without_devices_and_topics_reach_their_owners():
    from django_push import dispatch

    ada, bob = UserFactory(email="ada@example.com"), UserFactory(email="bob@example.com")
    UserFactory(email="gone@example.com", is_active=False)
    nobody = UserFactory(email="")
    with transaction.atomic():  # sent on commit
        n = dispatch.notify(audience={"all": True, "channels": ["email"]}, title="Sale", body="Today only")
    n.refresh_from_db()
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "bob@example.com"]
    assert (n.targeted, n.sent, n.skipped, n.status) == (3, 2, 1, "done")  # nobody has no address
    mail.outbox.clear()

    news = Topic.objects.create(name="news")
    Subscription.objects.create(device=DeviceFactory(owner=bob), topic=news)
    with transaction.atomic():
        n = dispatch.notify(audience={"topics": ["news"], "channels": ["email"]}, title="News", body="!")
    n.refresh_from_db()
    assert [m.to for m in mail.outbox] == [["bob@example.com"]] and n.sent == 1
    assert not Device.objects.filter(owner=nobody).exists() and ada.pk


def test_an_invalid_phone_number_is_skipped_not_an_error():
    user = UserFactory()
    PHONES[user.pk] = "12345"
    n = send("news", user)
    assert not Device.objects.filter(platform="sms").exists()
    assert n.status == "done" and n.skipped == 1


def test_a_changed_address_replaces_the_row_and_a_bounced_one_stays_off():
    user = UserFactory(email="old@example.com")
    send("mail_only", user)
    row = Device.objects.get(platform="email", owner=user)
    assert channels.anymail_tracking(event=SimpleNamespace(event_type="bounced", recipient="old@example.com"))
    row.refresh_from_db()
    assert not row.active and "bounced" in row.deactivation_reason
    send("mail_only", user)
    assert len(mail.outbox) == 1  # the bounced address is not mailed again
    user.email = "new@example.com"
    user.save()
    send("mail_only", user)
    row.refresh_from_db()
    assert (row.address, row.active) == ("new@example.com", True)
    assert mail.outbox[-1].to == ["new@example.com"]


def test_anymail_events_other_than_bounces_change_nothing():
    user = UserFactory(email="a@example.com")
    send("mail_only", user)
    assert (
        channels.anymail_tracking(event=SimpleNamespace(event_type="opened", recipient="a@example.com")) == 0
    )
    assert Device.objects.get(platform="email").active


def test_preferences_apply_per_channel():
    user = UserFactory()
    DeviceFactory(owner=user)
    PHONES[user.pk] = "+33612345678"
    NotificationPreference.objects.create(user=user, notification_type="news", email=False)
    n = send("news", user)
    by_platform = dict(Delivery.objects.filter(notification=n).values_list("platform", "status"))
    assert by_platform == {"apns": "sent", "sms": "sent", "email": "skipped"}
    assert Delivery.objects.get(notification=n, platform="email").reason == "user opted out of news email"
    assert mail.outbox == []


def test_quiet_hours_hold_push_and_sms_but_not_email(clock: Any):
    user = UserFactory()
    DeviceFactory(owner=user)
    PHONES[user.pk] = "+33612345678"
    QuietHours.objects.create(user=user, start=time(11), end=time(13), time_zone="UTC")
    n = send("news", user)
    by_platform = dict(Delivery.objects.filter(notification=n).values_list("platform", "status"))
    assert by_platform == {"apns": "pending", "sms": "pending", "email": "sent"}
    assert len(mail.outbox) == 1


def test_email_is_rendered_per_language_with_html_and_unsubscribe_headers(client: Any):
    fr, en = UserFactory(), UserFactory()
    DeviceFactory(owner=fr, locale="fr-FR")
    send("mail_only", [fr, en], title={"en": "Your invoice", "fr": "Votre facture"})
    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to[fr.email].subject == "Votre facture"
    assert by_to[en.email].subject == "Your invoice"
    message = by_to[en.email]
    assert "World" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html" and "<h1>Your invoice</h1>" in html
    header = message.extra_headers["List-Unsubscribe"]
    assert header.startswith("<https://example.com/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header[1:-1].removeprefix("https://example.com")

    page = client.get(link)  # a GET (a link scanner) only asks
    assert page.status_code == 200 and b"<form" in page.content
    assert not NotificationPreference.objects.filter(user=en).exists()

    done = client.post(link, {"List-Unsubscribe": "One-Click"})  # RFC 8058: no cookie, no CSRF token
    assert done.status_code == 200
    assert NotificationPreference.objects.get(user=en, notification_type="mail_only").email is False
    send("mail_only", [fr, en])
    assert [m.to for m in mail.outbox[2:]] == [[fr.email]]


def test_bad_or_expired_unsubscribe_tokens_get_a_400_page(client: Any, monkeypatch: pytest.MonkeyPatch):
    from django_push.compose import unsubscribe

    assert client.post("/unsubscribe/not-a-token/").status_code == 400
    forged = signing.dumps([1, "mail_only", "email"], salt="another.salt", compress=True)
    assert client.post(f"/unsubscribe/{forged}/").status_code == 400
    token = unsubscribe.make_token(1, "mail_only", "email")
    later = signing.time.time() + 61 * 86400
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert client.post(f"/unsubscribe/{token}/").status_code == 400
    assert not NotificationPreference.objects.exists()


def test_a_required_type_cannot_be_unsubscribed(client: Any):
    from django_push.compose import unsubscribe

    user = UserFactory()
    token = unsubscribe.make_token(user.pk, "security_alert", "email")
    assert client.post(f"/unsubscribe/{token}/").status_code == 200
    assert not NotificationPreference.objects.exists()


def test_a_per_type_template_overrides_the_default(settings: Any, tmp_path: Any):
    folder = tmp_path / "django_push" / "email" / "mail_only"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("[Site] {{ title }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    send("mail_only", UserFactory())
    assert mail.outbox[0].subject == "[Site] Hello"


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages: Any) -> int:
        raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (550, b"no such user")})


class OverloadedBackend(BaseEmailBackend):
    def send_messages(self, messages: Any) -> int:
        error = RuntimeError("ESP overloaded")
        error.status_code = 503  # type: ignore[attr-defined]  # what anymail's API errors carry
        raise error


def test_a_refused_recipient_deactivates_the_address_and_5xx_is_retried(push_conf: Any, settings: Any):
    user = UserFactory()
    email_backend = {"BACKEND": "django_push.backends.email.EmailBackend"}
    push_conf(
        BACKENDS={
            **settings.DJANGO_PUSH["BACKENDS"],
            "email": {**email_backend, "OPTIONS": {"backend": f"{__name__}.RefusingBackend"}},
        }
    )
    n = send("mail_only", user)
    assert Delivery.objects.get(notification=n).status == DeliveryStatus.INVALID_TOKEN
    assert not Device.objects.get(platform="email").active

    from django_push.backends.email import EmailBackend

    result = EmailBackend.interpret_error(_raised(OverloadedBackend))
    assert result.status == DeliveryStatus.UNAVAILABLE and result.retryable


def _raised(cls: type) -> BaseException:
    try:
        cls().send_messages([])
    except Exception as exc:
        return exc
    raise AssertionError("expected an exception")


def test_email_planning_and_rendering_cost_no_query_per_address(monkeypatch: pytest.MonkeyPatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_push.dispatch import chunks

    # Answers are recorded every FLUSH_INTERVAL while a chunk sends: how many flushes a send takes
    # depends on the machine's speed, not on the number of addresses. One flush at the end here.
    monkeypatch.setattr(chunks, "FLUSH_INTERVAL", 60.0)

    def queries_for(count: int) -> int:
        users = UserFactory.create_batch(count)
        with CaptureQueriesContext(connection) as captured:
            send("mail_only", users)
        return len(captured.captured_queries)

    few, many = queries_for(3), queries_for(30)
    assert few == many, (few, many)
    assert len(mail.outbox) == 33
