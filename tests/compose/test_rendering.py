"""Localization: titles and bodies per device language (Django's translation machinery), loc keys passed
through, and one message object per language so dispatch keeps batches large."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from django_push import dispatch, testing
from django_push.backends.payload import build_aps
from django_push.compose import events, rendering
from django_push.compose.events import Rule
from django_push.compose.send import send as typed_send
from django_push.models import Device, Notification, Topic

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _by_locale() -> dict[str, tuple[str, str]]:
    devices = dict(Device.objects.values_list("pk", "locale"))
    return {devices[e.target.key]: (e.message.title, e.message.body) for e in testing.outbox}


def test_rule_templates_render_in_each_device_language(french):
    staff = UserFactory(is_staff=True)
    for locale in ("fr-FR", "en", "", "xx-unknown"):
        DeviceFactory(owner=staff, locale=locale)
    rule = Rule(
        model=Topic,
        on="create",
        notification_type="comment",
        recipients=lambda topic: staff,
        title=_("New comment on {{ topic.name }}"),
        body="{% load i18n %}{% translate 'comment' %}: {{ topic.description }}",
    )
    with events.registered(rule):
        Topic.objects.create(name="django", description="<b>great</b> & co")
    assert _by_locale() == {
        "fr-FR": ("Nouveau commentaire sur django", "commentaire: <b>great</b> & co"),
        "en": ("New comment on django", "comment: <b>great</b> & co"),
        "": ("New comment on django", "comment: <b>great</b> & co"),
        "xx-unknown": ("New comment on django", "comment: <b>great</b> & co"),
    }
    n = Notification.objects.get()
    assert (n.title, set(n.options["i18n"])) == ("New comment on django", {"en", "fr"})


def test_per_language_templates_and_callables():
    user = UserFactory()
    DeviceFactory(owner=user, locale="de-AT")
    DeviceFactory(owner=user, locale="pt_BR")
    DeviceFactory(owner=user, locale="en-GB")
    with transaction.atomic():
        typed_send(
            "direct_message",
            to=user,
            title={
                "de": "Neue Nachricht von {{ sender }}",
                "pt-br": "Nova mensagem de {{ sender }}",
                "en": "New message from {{ sender }}",
            },
            body=lambda: rendering.translation.get_language(),
            context={"sender": "Ana"},
        )
    assert _by_locale() == {
        "de-AT": ("Neue Nachricht von Ana", "de"),
        "pt_BR": ("Nova mensagem de Ana", "pt-br"),
        "en-GB": ("New message from Ana", "en-gb"),
    }


def test_one_message_object_per_language():
    user = UserFactory()
    for locale in ("fr", "fr-CA", "fr_FR", "en", "en-US"):
        DeviceFactory(owner=user, locale=locale)
    n = dispatch.create(
        audience={"users": [user.pk]},
        title="t",
        notification_type="comment",
        options={"i18n": {"fr": {"title": "tf", "body": ""}, "en": {"title": "te", "body": ""}}},
    )
    messages = {d.locale: rendering.render(n, d) for d in Device.objects.all()}
    assert len({id(m) for m in messages.values()}) == 2
    assert messages["fr-CA"] is messages["fr"] and messages["en-US"] is messages["en"]
    assert (messages["fr_FR"].title, messages["en"].title) == ("tf", "te")


def test_untyped_broadcast_texts_go_through_gettext(french):
    DeviceFactory(locale="fr")
    DeviceFactory(locale="en")
    with transaction.atomic():
        dispatch.notify(audience={"all": True}, title="Weekly news", body="Not in any catalog")
    assert _by_locale() == {
        "fr": ("Nouvelles de la semaine", "Not in any catalog"),
        "en": ("Weekly news", "Not in any catalog"),
    }


def test_type_defaults_fill_in_ttl_and_collapse_key_for_any_sender():
    DeviceFactory()
    with transaction.atomic():
        dispatch.notify(audience={"all": True}, title="x", notification_type="like")
    message = testing.outbox[0].message
    assert (message.ttl, message.collapse_key) == (86400, "like")


def test_loc_keys_pass_through_for_client_side_localization():
    user = UserFactory()
    DeviceFactory(owner=user, locale="fr")
    rule = Rule(
        model=Topic,
        on="create",
        notification_type="comment",
        recipients=lambda topic: user,
        title="{{ topic.name }}",
        options=lambda topic: {
            "title_loc_key": "NEW_TOPIC_TITLE",
            "loc_key": "NEW_TOPIC_BODY",
            "loc_args": [topic.name],
        },
    )
    with events.registered(rule):
        Topic.objects.create(name="chess")
    message = testing.outbox[0].message
    assert (message.title_loc_key, message.loc_key, message.loc_args) == (
        "NEW_TOPIC_TITLE",
        "NEW_TOPIC_BODY",
        ["chess"],
    )
    alert = build_aps(message)["alert"]
    assert (alert["title-loc-key"], alert["loc-key"], alert["loc-args"]) == (
        "NEW_TOPIC_TITLE",
        "NEW_TOPIC_BODY",
        ["chess"],
    )


def test_language_for():
    assert rendering.language_for("fr-CA") == "fr"
    assert rendering.language_for("pt_BR") == "pt-br"
    assert rendering.language_for("") == rendering.default_language() == "en"
    assert rendering.language_for("tlh") == "en"
