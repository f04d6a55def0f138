"""The service worker view: serves django_push's worker from a URL whose scope can cover the site.

A script served from /static/ may only control /static/; serving it from the site root (or sending
``Service-Worker-Allowed``) lets it receive pushes for every page.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

WORKER = Path(__file__).parent.parent / "static" / "django_push" / "sw.js"


@lru_cache(maxsize=1)
def _worker_source() -> bytes:
    return WORKER.read_bytes()


@require_GET
@cache_control(max_age=0, no_cache=True)  # browsers must see a new worker as soon as it ships
def service_worker(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_worker_source(), content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response
