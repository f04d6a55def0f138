"""The demo's contact resolvers (``DJANGO_PUSH["PHONE_NUMBER_RESOLVER"]``).

A real site reads the number from its own profile model; the demo derives a fictional one (the
555-01xx range is reserved for fiction) so the console SMS backend has something to print.
"""

from __future__ import annotations

from typing import Any


def phone_for(user: Any) -> str | None:
    """A user's phone number (E.164), or None for users without one."""
    if not getattr(user, "pk", None):
        return None
    return f"+1202555{100 + user.pk % 100:04d}"
