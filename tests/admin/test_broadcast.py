"""The broadcast composer: each step, its form errors, sending now or later, and its permission."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from django_push import dispatch, testing
from django_push.models import Notification

from ..factories import DeviceFactory, UserFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db

COMPOSE = "admin:django_push_notification_compose"
CHANGELIST = "admin:django_push_notification_changelist"


def post(client, step="_preview", **fields):
    data = {
        "title": "Big news",
        "body": "Something happened",
        "data": "",
        "priority": "normal",
        "ttl": "",
        "collapse_key": "",
        "push_type": "alert",
        "overrides": "",
        "users": "",
        "audience_json": "",
        "scheduled_at": "",
        step: "1",
    }
    data.update(fields)
    return client.post(reverse(COMPOSE), data)


def texts_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def errors(response):
    form = response.context["form"]
    return {name: [str(e) for e in errs] for name, errs in form.errors.items()}


def test_compose_page_renders_every_field(admin_client):
    response = admin_client.get(reverse(COMPOSE))
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "title",
        "body",
        "data",
        "priority",
        "ttl",
        "collapse_key",
        "push_type",
        "overrides",
        "everyone",
        "topics",
        "users",
        "platforms",
        "applications",
        "audience_json",
        "scheduled_at",
    ):
        assert f'name="{name}"' in html, name
    assert response.context["step"] == "compose"
    assert 'name="_preview"' in html


def test_bad_json_is_a_form_error(admin_client, news):
    response = post(admin_client, data="{not json", topics=["news"])
    assert response.context["step"] == "compose"
    assert "Enter a valid JSON." in errors(response)["data"]

    response = post(admin_client, data="[1, 2]", topics=["news"])
    assert any("JSON object" in e for e in errors(response)["data"])

    response = post(admin_client, overrides='{"android": {}}', topics=["news"])
    assert any("Unknown platform(s) android" in e for e in errors(response)["overrides"])

    response = post(admin_client, audience_json='{"everyone": true}')
    assert any("Unknown audience key(s): everyone" in e for e in errors(response)["audience_json"])


def test_empty_audience_is_a_form_error(admin_client, news):
    response = post(admin_client)
    assert response.context["step"] == "compose"
    assert any("Choose who receives it" in e for e in errors(response)["__all__"])
    # Restrictions alone select nobody.
    response = post(admin_client, platforms=["apns"])
    assert any("Choose who receives it" in e for e in errors(response)["__all__"])


def test_empty_message_is_a_form_error(admin_client, news):
    response = post(admin_client, title="", body="", topics=["news"])
    assert any("needs a title, a body or data" in e for e in errors(response)["__all__"])


def test_unknown_user_and_audience_key_given_twice(admin_client, news):
    response = post(admin_client, users="nosuchuser 99999")
    assert "No user with this username or id: 99999, nosuchuser." in errors(response)["users"]

    response = post(admin_client, topics=["news"], audience_json='{"topics": ["sport"]}')
    assert any("either in the fields above or in the JSON" in e for e in errors(response)["audience_json"])


def test_oversize_payload_is_a_form_error_per_platform(admin_client, news):
    response = post(admin_client, body="x" * 5000, topics=["news"])
    assert response.context["step"] == "compose"
    problems = errors(response)["__all__"]
    assert len(problems) == 3
    assert any(p.startswith("Apple (APNs) payload is") and "limit of 4096 bytes" in p for p in problems)
    assert any("Firebase Cloud Messaging payload is" in p and "4096" in p for p in problems)
    assert any(p.startswith("Web Push payload is") and "limit of 3993 bytes" in p for p in problems)
    assert not Notification.objects.exists()

    # About 4,010 bytes fit APNs' 4096 but not Web Push's 3993, nor FCM's 4096 once its message
    # carries its platform sections (the preview measures what the FCM backend sends): only the
    # audience's platforms count.
    body = "y" * 3980
    response = post(admin_client, body=body, topics=["news"])
    problems = errors(response)["__all__"]
    assert sorted(p.split(" payload is")[0] for p in problems) == ["Firebase Cloud Messaging", "Web Push"]
    response = post(admin_client, body=body, topics=["news"], platforms=["apns"])
    assert response.context["step"] == "preview"


def test_scheduled_time_must_be_in_the_future(admin_client, news):
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = post(admin_client, topics=["news"], scheduled_at=past)
    assert any("in the future" in e for e in errors(response)["scheduled_at"])


def test_preview_shows_payloads_sizes_and_reach(admin_client, news):
    _, devices = news
    response = post(admin_client, topics=["news"], data='{"article": 42}', collapse_key="news-42")
    assert response.status_code == 200
    assert response.context["step"] == "preview"
    assert response.context["reach"] == {"total": 3, "by_platform": {"apns": 2, "webpush": 1}}
    previews = {p.platform: p for p in response.context["previews"]}
    assert set(previews) == {"apns", "fcm", "webpush"}
    assert [previews[p].devices for p in ("apns", "fcm", "webpush")] == [2, 0, 1]
    assert all(p.ok and not p.exact for p in previews.values())  # locmem: approximate rendering
    assert '"article": 42' in previews["apns"].payload
    assert previews["webpush"].limit == 3993 and previews["apns"].limit == 4096
    html = response.content.decode()
    assert "3 devices" in html and "subscribers of news" in html
    assert 'name="_confirm"' in html and 'name="_edit"' in html
    # The whole form travels along in hidden inputs.
    assert '<input type="hidden" name="topics" value="news"' in html
    assert '<input type="hidden" name="title" value="Big news"' in html
    for device in devices:
        assert device.address not in html


def test_edit_goes_back_with_values_kept(admin_client, news):
    response = post(admin_client, step="_edit", topics=["news"], title="Keep me")
    assert response.context["step"] == "compose"
    html = response.content.decode()
    assert 'value="Keep me"' in html
    assert not response.context["form"].errors


def test_confirm_then_send_now(admin_client, news, django_capture_on_commit_callbacks, admin_user):
    response = post(admin_client, step="_confirm", topics=["news"], platforms=["apns", "webpush"])
    assert response.context["step"] == "confirm"
    html = response.content.decode()
    assert "will be sent now to 3 devices" in html
    assert 'name="_send"' in html
    assert not Notification.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_client, step="_send", topics=["news"], platforms=["apns", "webpush"])
    notification = Notification.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:django_push_notification_change", args=[notification.pk])
    assert notification.audience == {"topics": ["news"], "platforms": ["apns", "webpush"]}
    assert (notification.title, notification.created_by, notification.notification_type) == (
        "Big news",
        admin_user,
        "broadcast",
    )
    assert (notification.status, notification.sent, notification.progress) == ("done", 3, 100)
    assert len(testing.outbox) == 3
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Sending “Big news” to 3 devices."]


def test_send_with_every_message_option(admin_client, news, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(
            admin_client,
            step="_send",
            topics=["news"],
            data='{"k": "v"}',
            priority="high",
            ttl="600",
            collapse_key="c1",
            push_type="alert",
            overrides='{"apns": {"aps": {"badge": 3}}}',
        )
    n = Notification.objects.get()
    assert (n.data, n.priority, n.ttl, n.collapse_key, n.overrides) == (
        {"k": "v"},
        "high",
        600,
        "c1",
        {"apns": {"aps": {"badge": 3}}},
    )
    message = testing.outbox[0].message
    assert (message.priority, message.ttl, message.overrides["apns"]) == ("high", 600, {"aps": {"badge": 3}})


def test_users_by_name_and_id_and_audience_json_combined(admin_client, django_capture_on_commit_callbacks):
    alice, bob, carol = UserFactory(username="alice"), UserFactory(username="bob"), UserFactory()
    for user in (alice, bob, carol):
        DeviceFactory(owner=user, locale="fr-FR" if user != bob else "en-GB")
    response = post(admin_client, users=f"alice, {bob.pk}", audience_json='{"locales": ["fr-FR"]}')
    assert response.context["step"] == "preview"
    assert response.context["reach"]["total"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        post(admin_client, step="_send", users=f"alice, {bob.pk}", audience_json='{"locales": ["fr-FR"]}')
    n = Notification.objects.get()
    assert n.audience == {"locales": ["fr-FR"], "users": sorted([alice.pk, bob.pk])}
    assert [e.target.address for e in testing.outbox] == [alice.push_devices.get().address]


def test_everyone(admin_client, news, django_capture_on_commit_callbacks):
    response = post(admin_client, everyone="on")
    assert response.context["reach"]["total"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        post(admin_client, step="_send", everyone="on")
    assert Notification.objects.get().audience == {"all": True}
    assert len(testing.outbox) == 4


def test_schedule_then_cancel_before_it_starts(admin_client, news, django_capture_on_commit_callbacks):
    when = timezone.now() + timedelta(hours=2)
    value = timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")
    response = post(admin_client, step="_confirm", topics=["news"], scheduled_at=value)
    assert "will be sent at" in response.content.decode()
    assert 'value="Yes, schedule it"' in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_client, step="_send", topics=["news"], scheduled_at=value)
    n = Notification.objects.get()
    assert n.status == "scheduled"
    assert abs((n.scheduled_at - when).total_seconds()) < 60
    assert testing.outbox == []
    assert texts_of(response)[0].startswith("Scheduled “Big news” for")

    response = admin_client.post(
        reverse(CHANGELIST), {"action": "cancel", "_selected_action": [n.pk]}, follow=True
    )
    n.refresh_from_db()
    assert n.status == "cancelled"
    assert "Cancelled 1 notification." in [str(m) for m in response.context["messages"]]
    # When its time comes, nothing is sent.
    dispatch.send_due(now=n.scheduled_at + timedelta(minutes=1))
    assert testing.outbox == []


def test_button_shown_only_with_the_permission(client, broadcaster):
    response = broadcaster.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert reverse(COMPOSE) in response.content.decode()
    assert "Compose broadcast" in response.content.decode()

    client.logout()
    client.force_login(staff_with("view_notification"))
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "Compose broadcast" not in response.content.decode()
    assert reverse(COMPOSE) not in response.content.decode()


def test_staff_without_permission_get_403(viewer, news):
    assert viewer.get(reverse(COMPOSE)).status_code == 403
    for step in ("_preview", "_confirm", "_send"):
        assert post(viewer, step=step, topics=["news"]).status_code == 403
    assert not Notification.objects.exists()
    assert testing.outbox == []


def test_non_staff_are_sent_to_login(client, news):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse(COMPOSE))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_broadcaster_without_superuser_can_send(broadcaster, news, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(broadcaster, step="_send", topics=["news"])
    assert response.status_code == 302
    assert Notification.objects.get().sent == 3
