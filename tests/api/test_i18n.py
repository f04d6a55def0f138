"""The API answers in the request's language: django_push ships a complete French catalogue."""

from __future__ import annotations

import ast
import gettext
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

import django_push

from .conftest import API, APNS_TOKEN, P256DH

pytestmark = pytest.mark.django_db

DEVICES = API + "devices/"
NB = "\u00a0"  # French puts a no-break space before ; and :
CATALOGUE = Path(django_push.__file__).parent / "locale" / "fr" / "LC_MESSAGES"


@pytest.fixture(autouse=True)
def _locale_middleware(settings: Any) -> Iterator[None]:
    """Accept-Language picks the language, as on a site with LocaleMiddleware (which leaves the last
    request's language active in the thread: put the default back for the tests that follow)."""
    middleware = list(settings.MIDDLEWARE)
    session = middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    middleware.insert(session + 1, "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware
    yield
    translation.deactivate()


@pytest.mark.parametrize(
    ("body", "field", "english", "french"),
    [
        (
            {"platform": "apns", "token": "ab" * 31},
            "token",
            "An APNs device token is exactly 64 hexadecimal characters; got 62 characters.",
            f"Un jeton d’appareil APNs compte exactement 64 caractères hexadécimaux{NB}; "
            f"reçu{NB}: 62 caractères.",
        ),
        (  # a message declared at class level (gettext_lazy), formatted by DRF
            {"platform": "blackberry", "token": APNS_TOKEN},
            "platform",
            '"blackberry" is not a platform: use apns, fcm or webpush.',
            f"« blackberry » n’est pas une plateforme{NB}: utilisez apns, fcm ou webpush.",
        ),
        (
            {"platform": "webpush", "token": "https://fcm.googleapis.com/fcm/send/x", "p256dh": P256DH},
            "auth",
            "Web Push devices need the subscription's auth (keys.auth in toJSON()).",
            "Les appareils Web Push ont besoin de la valeur auth de l’abonnement (keys.auth dans toJSON()).",
        ),
    ],
)
def test_validation_errors_follow_accept_language(api, body, field, english, french):
    answer = api.post(DEVICES, body, format="json", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert answer.status_code == 400
    assert answer.json()[field] == [french]
    # and the same request in English is unchanged
    answer = api.post(DEVICES, body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.json()[field] == [english]


def test_forbidden_details_are_french_too(api):
    from django_push.models import Topic

    Topic.objects.create(name="staff", self_subscribe=False)
    device = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json").json()["id"]
    answer = api.post(
        f"{DEVICES}{device}/topics/", {"topic": "staff"}, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        f"Le sujet 'staff' est géré par le site{NB}; un appareil ne peut ni s’y abonner ni s’en désabonner."
    )


def _po_entries(path: Path) -> list[dict[str, Any]]:
    """msgid / msgid_plural / msgstr / msgstr[n] / flags of each entry of a .po file (enough of the
    format for the catalogue django-admin makemessages writes)."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    key = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, key = {}, ""
        elif line.startswith("#,"):
            entry["flags"] = {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return [e for e in entries if e.get("msgid")]


def test_the_french_catalogue_is_complete_and_compiled():
    entries = _po_entries(CATALOGUE / "django.po")
    assert len(entries) > 250
    with (CATALOGUE / "django.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for entry in entries:
        assert "fuzzy" not in entry.get("flags", set()), entry["msgid"]
        if "msgid_plural" in entry:
            forms = [entry["msgstr[0]"], entry["msgstr[1]"]]
            assert all(forms), entry["msgid"]
            assert [compiled.ngettext(entry["msgid"], entry["msgid_plural"], n) for n in (1, 2)] == forms
        else:
            assert entry["msgstr"], entry["msgid"]  # translated
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"]  # and compiled since
