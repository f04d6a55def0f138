"""The Web Push endpoint allow-list: the SSRF guard used at registration and again at send."""

from __future__ import annotations

import pytest

from django_push.backends.webpush_endpoints import origin, parse_allowed_hosts, validate_endpoint
from django_push.exceptions import InvalidTarget, PushConfigurationError

DEFAULTS = [
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    "*.notify.windows.com",
]


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com/fcm/send/abc:def"),
        ("https://wns2-par02p.notify.windows.com/w/?token=BQYAAA%2b", None),
        ("https://a.b.notify.windows.com/w/?token=AwYAAAD", None),
        ("https://web.push.apple.com/QGx", None),
        ("HTTPS://FCM.GoogleAPIs.com/fcm/send/X", "https://fcm.googleapis.com/fcm/send/X"),
        ("https://fcm.googleapis.com:443/fcm/send/x", "https://fcm.googleapis.com/fcm/send/x"),
    ],
)
def test_known_push_services_are_allowed_and_normalized(url, normalized):
    assert validate_endpoint(url, DEFAULTS) == (normalized or url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://evilnotify.windows.com/w/", "not a known push service"),  # no dot boundary
        ("https://notify.windows.com/w/", "not a known push service"),  # the wildcard needs a label
        ("https://fcm.googleapis.com.evil.com/x", "not a known push service"),
        ("https://evil.com/fcm.googleapis.com", "not a known push service"),
        ("https://sub.fcm.googleapis.com/x", "not a known push service"),  # plain entries are exact
        ("http://fcm.googleapis.com/fcm/send/x", "https"),
        ("ftp://fcm.googleapis.com/x", "https"),
        ("//fcm.googleapis.com/x", "https"),
        ("https://user:pw@fcm.googleapis.com/x", "user information"),
        ("https://fcm.googleapis.com@evil.com/x", "user information"),
        ("https://fcm.googleapis.com:8443/x", "not a known push service"),  # port not listed
        ("https://fcm.googleapis.com:99999/x", "not a valid URL"),
        ("https://fcm.googleapis.com./x", "valid DNS name"),  # trailing dot
        ("https://fcm..googleapis.com/x", "valid DNS name"),
        ("https://fcm%2egoogleapis.com/x", "valid DNS name"),
        ("https://fcm.googleapis.com\\@evil.com/x", "backslashes"),
        ("https://fcm.googleapis.com /x", "spaces"),
        ("https://fcm.googleapis.com/x\n", "control characters"),
        ("https://fcm.googleäpis.com/x", "ASCII"),
        ("https://xn--fcm-googleapis-com.evil/x", "not a known push service"),
        ("https://fcm.googleapis.com/x#frag", "fragment"),
        ("https:///x", "no host"),
        ("", "non-empty"),
        ("https://127.0.0.1/x", "private or reserved address"),
        ("https://10.0.0.8/x", "private or reserved address"),
        ("https://169.254.169.254/latest", "private or reserved address"),
        ("https://[::1]/x", "private or reserved address"),
        ("https://[fe80::1]/x", "private or reserved address"),
        ("https://8.8.8.8/x", "an IP address"),
        ("https://127.1/x", "valid DNS name"),  # numeric shorthand for 127.0.0.1
        ("https://0x7f000001/x", "valid DNS name"),
        ("https://localhost/x", "not a known push service"),
        ("https://" + "a" * 5000 + ".com/", "longer than"),
    ],
)
def test_dangerous_or_unknown_endpoints_are_refused_with_a_reason(url, message):
    with pytest.raises(InvalidTarget, match=message):
        validate_endpoint(url, DEFAULTS)


def test_wildcards_never_match_ip_literals():
    with pytest.raises(PushConfigurationError):
        parse_allowed_hosts(["*.0.0.1"])  # a wildcard over numbers is refused outright
    with pytest.raises(InvalidTarget, match="private or reserved"):
        validate_endpoint("https://10.0.0.1/x", ["*.example.com"])


def test_a_listed_address_is_allowed_exactly_with_its_port():
    allowed = ["127.0.0.1:8443", "[::1]:8443", "10.1.2.3"]
    assert validate_endpoint("https://127.0.0.1:8443/wp/1", allowed) == "https://127.0.0.1:8443/wp/1"
    assert validate_endpoint("https://[::1]:8443/wp/1", allowed) == "https://[::1]:8443/wp/1"
    assert validate_endpoint("https://10.1.2.3/wp/1", allowed) == "https://10.1.2.3/wp/1"
    for url in ("https://127.0.0.1/wp/1", "https://127.0.0.1:9999/wp/1", "https://10.1.2.3:8443/wp/1"):
        with pytest.raises(InvalidTarget):
            validate_endpoint(url, allowed)


def test_ports_are_allowed_only_where_the_entry_names_them():
    allowed = ["push.example.net:8443", "*.example.org:8443"]
    assert validate_endpoint("https://push.example.net:8443/x", allowed)
    assert validate_endpoint("https://a.example.org:8443/x", allowed)
    for url in ("https://push.example.net/x", "https://a.example.org/x", "https://push.example.net:443/x"):
        with pytest.raises(InvalidTarget):
            validate_endpoint(url, allowed)


def test_default_allow_list_comes_from_settings(settings):
    assert validate_endpoint("https://fcm.googleapis.com/fcm/send/x")
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "WEBPUSH_ALLOWED_HOSTS": ["push.example.net"]}
    assert validate_endpoint("https://push.example.net/x")
    with pytest.raises(InvalidTarget, match="WEBPUSH_ALLOWED_HOSTS"):
        validate_endpoint("https://fcm.googleapis.com/fcm/send/x")


@pytest.mark.parametrize(
    "entry", ["*", "*.com", "", "exa mple.com", "example.com:0", "example.com:http", "*.10.0.0.1", "[::1"]
)
def test_bad_allow_list_entries_are_configuration_errors(entry):
    with pytest.raises(PushConfigurationError, match="WEBPUSH_ALLOWED_HOSTS"):
        parse_allowed_hosts([entry])


def test_allow_list_must_be_a_list_not_a_string():
    with pytest.raises(PushConfigurationError, match="list"):
        parse_allowed_hosts("fcm.googleapis.com")


def test_origin_is_the_vapid_audience():
    assert origin("https://127.0.0.1:8443/wp/1") == "https://127.0.0.1:8443"
    assert origin("https://fcm.googleapis.com/fcm/send/x") == "https://fcm.googleapis.com"


@pytest.mark.parametrize(
    "url",
    [
        "https://fcm.googleapis.com/fcm/send/",
        "https://fcm.googleapis.com/fcm/send",
        "https://fcm.googleapis.com/fcm/send//",
        "https://fcm.googleapis.com/fcm/send/?x=1",  # a query is not a subscription id here
        "https://fcm.googleapis.com/wp/",
        "https://fcm.googleapis.com/",
        "https://fcm.googleapis.com",
        "https://updates.push.services.mozilla.com/wpush/v2/",
        "https://updates.push.services.mozilla.com/wpush/v1",
        "https://updates.push.services.mozilla.com/",
        "https://web.push.apple.com/",
        "https://web.push.apple.com",
        "https://web.push.apple.com//",
        "https://wns2-par02p.notify.windows.com/w/?token=",
        "https://wns2-par02p.notify.windows.com/w/?token=%20",
        "https://wns2-par02p.notify.windows.com/w/",
        "https://wns2-par02p.notify.windows.com/w/?other=1",
        "https://push.example.net/",  # a host of the operator's: a path or a query at least
        "https://push.example.net",
    ],
)
def test_a_service_base_path_without_a_subscription_id_is_refused(url):
    with pytest.raises(InvalidTarget, match="has no subscription id"):
        validate_endpoint(url, [*DEFAULTS, "push.example.net"])


@pytest.mark.parametrize(
    "url",
    [
        "https://fcm.googleapis.com/fcm/send/dTTnTmfj5Ek:APA91b",
        "https://fcm.googleapis.com/wp/dTTnTmfj5Ek:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
        "https://updates.push.services.mozilla.com/wpush/v1/gAAAAABk",
        "https://web.push.apple.com/QGuQyavXutnMVg",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
        "https://push.example.net/s/1",
        "https://push.example.net/?sub=1",
    ],
)
def test_an_endpoint_with_a_subscription_id_is_allowed(url):
    assert validate_endpoint(url, [*DEFAULTS, "push.example.net"]) == url
