"""url_with_path: a per-device URL without re-parsing the base, equal to what httpx would parse."""

from __future__ import annotations

import httpx
import pytest

from django_push.backends import http
from django_push.backends.http import url_with_path


@pytest.mark.parametrize(
    "base, path",
    [
        ("https://api.push.apple.com", "/3/device/" + "ab" * 32),
        ("https://api.sandbox.push.apple.com:443/", "/3/device/00ff"),
        ("https://127.0.0.1:18443", "/3/device/abc"),
        ("https://[::1]:8443", "/3/device/abc"),
    ],
)
def test_a_plain_path_is_spliced_into_the_parsed_base(base, path):
    url = url_with_path(base, path)
    assert url == httpx.URL(base.rstrip("/") + path)
    assert (url.host, url.port, url.raw_path) == (
        httpx.URL(base).host,
        httpx.URL(base).port,
        path.encode(),
    )


def test_the_splice_is_what_this_httpx_supports():
    assert http._SPLICE, "httpx changed its URL internals: every per-device URL is parsed in full"


@pytest.mark.parametrize(
    "base, path, expected",
    [
        # Needs percent-encoding: parsed in full, as httpx would.
        ("https://example.com", "/a b", "https://example.com/a%20b"),
        # A base with a path of its own is not spliced over.
        ("https://example.com/prefix", "/3/device/ab", "https://example.com/prefix/3/device/ab"),
    ],
)
def test_anything_else_is_parsed_in_full(base, path, expected):
    assert url_with_path(base, path) == httpx.URL(expected)


def test_without_the_splice_urls_are_parsed(monkeypatch):
    monkeypatch.setattr(http, "_SPLICE", False)
    url = url_with_path("https://api.push.apple.com", "/3/device/ab")
    assert url == httpx.URL("https://api.push.apple.com/3/device/ab")
