"""How a notification will look on screen, beside the composer's JSON preview: an iPhone lock screen,
an Android notification shade and a desktop browser, each with the truncation it applies.

The limits are characters a typical device shows before cutting the text with an ellipsis (system
font, default text size, portrait phone; a desktop toast at its default width). Devices differ,
so these are approximations, labelled as such; the point is to see that a 200-character body shows
one line on Android's collapsed shade and four on an iPhone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from django_push.message import PushMessage

StrOrPromise = str | Promise


@dataclass(frozen=True)
class Surface:
    key: str
    label: StrOrPromise
    title_chars: int
    body_chars: int
    note: StrOrPromise


SURFACES = (
    Surface("ios", _("iPhone lock screen"), 40, 178, _("Title one line, body up to four lines.")),
    Surface(
        "android",
        _("Android notification shade"),
        40,
        48,
        _("Collapsed: one line each; expanding shows up to about seven lines of body."),
    ),
    Surface(
        "desktop",
        _("Desktop browser"),
        50,
        120,
        _("Title one line, body two to three lines; the site's address below."),
    ),
)


@dataclass(frozen=True)
class Look:
    surface: Surface
    title: str
    body: str
    title_cut: bool
    body_cut: bool

    @property
    def cut(self) -> bool:
        return self.title_cut or self.body_cut


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """``text`` on one line as the device shows it: cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat, False
    return flat[: limit - 1].rstrip() + "…", True


def render_all(message: PushMessage) -> list[Look]:
    """One look per surface (a background push shows nothing: no looks)."""
    if message.is_background:
        return []
    looks = []
    for surface in SURFACES:
        title, title_cut = truncate(message.title, surface.title_chars)
        body, body_cut = truncate(message.body, surface.body_chars)
        looks.append(Look(surface, title, body, title_cut, body_cut))
    return looks
