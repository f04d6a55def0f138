"""Reach while composing: ``compose/reach/`` counts the devices the composer's audience fields name,
as they change, and spells the audience out ("subscribers of news or devices of alice, bob — only
APNs, Web Push").

Counting is one grouped COUNT over the audience query. It is cached per audience for
:data:`CACHE_SECONDS` (the composer asks on every change, and "everyone" on a large table is the slow
case), and the answer says whether it came from the cache and when it was counted. The preview step
counts afresh: what is confirmed is never a cached number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from django_push.admin.charts import platform_label
from django_push.admin.forms import BroadcastForm
from django_push.admin.notification_actions import forbidden
from django_push.dispatch import audience as audience_mod

CACHE_SECONDS = 30
#: Form fields that make up the audience; errors of other fields (the message) do not matter here.
AUDIENCE_FIELDS = ("everyone", "topics", "users", "platforms", "applications", "audience_json")
NAMES_SHOWN = 5


def reach_view(model_admin: Any) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not model_admin.has_broadcast_permission(request):
            return forbidden(request, model_admin)
        data = request.GET.copy()
        data["title"] = "reach"  # the message is not what is counted: never let its errors hide the audience
        form = BroadcastForm(data)
        form.is_valid()
        errors = {
            name: [str(e) for e in form.errors[name]] for name in AUDIENCE_FIELDS if name in form.errors
        }
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        spec = form.cleaned_data.get("audience")
        if spec is None:  # valid fields, but nobody chosen
            return JsonResponse(
                {
                    "total": 0,
                    "by_platform": [],
                    "sentence": _("nobody yet: choose who receives it"),
                    "cached": False,
                }
            )
        return JsonResponse({**count(spec), "sentence": sentence(spec)})

    return view


def count(spec: dict[str, Any], *, use_cache: bool = True) -> dict[str, Any]:
    """``{"total", "by_platform": [{"platform", "label", "count"}], "cached", "counted_at"}``."""
    key = "django_push:reach:" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    found = cache.get(key) if use_cache else None
    if found is not None:
        return {**found, "cached": True}
    rows = audience_mod.devices_for(spec).values_list("platform").annotate(n=Count("id")).order_by("platform")
    by_platform = [{"platform": p, "label": platform_label(p), "count": n} for p, n in rows]
    result = {
        "total": sum(row["count"] for row in by_platform),
        "by_platform": by_platform,
        "counted_at": formats.date_format(timezone.localtime(), "TIME_FORMAT"),
    }
    cache.set(key, result, CACHE_SECONDS)
    return {**result, "cached": False}


def _names(ids: list[int]) -> str:
    User = get_user_model()
    names = dict(
        User._default_manager.filter(pk__in=ids[:NAMES_SHOWN]).values_list("pk", User.USERNAME_FIELD)
    )
    shown = [str(names.get(i, f"#{i}")) for i in ids[:NAMES_SHOWN]]
    if len(ids) > NAMES_SHOWN:
        shown.append(_("%(count)d more") % {"count": len(ids) - NAMES_SHOWN})
    return ", ".join(shown)


def sentence(spec: dict[str, Any]) -> str:
    """The audience in words: selectors joined by "or", then the restrictions after a dash."""
    selectors: list[str] = []
    if spec.get("all"):
        selectors.append(_("every active device"))
    if spec.get("topics"):
        selectors.append(_("subscribers of %(topics)s") % {"topics": ", ".join(spec["topics"])})
    if spec.get("users"):
        selectors.append(_("devices of %(users)s") % {"users": _names(list(spec["users"]))})
    if spec.get("devices"):
        selectors.append(_("%(count)d chosen devices") % {"count": len(spec["devices"])})
    restrictions: list[str] = []
    if spec.get("platforms"):
        restrictions.append(
            _("only %(platforms)s") % {"platforms": ", ".join(map(platform_label, spec["platforms"]))}
        )
    if spec.get("applications"):
        restrictions.append(_("apps %(apps)s") % {"apps": ", ".join(spec["applications"])})
    if spec.get("locales"):
        restrictions.append(_("locales %(locales)s") % {"locales": ", ".join(spec["locales"])})
    if spec.get("filter"):
        restrictions.append(_("where %(keys)s") % {"keys": ", ".join(sorted(spec["filter"]))})
    text = f" {_('or')} ".join(selectors) or _("nobody")
    return f"{text} — {', '.join(restrictions)}" if restrictions else text
