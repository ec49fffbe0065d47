"""Who may control a run, and where a visitor connects from: the entries a proxy appended, IPv6 by /64."""

import asyncio

import pytest

from runtime import RunManager
from runtime.serving.access import address_group, forwarded_client, seen_directly


def test_the_client_address_is_the_entry_the_trusted_proxy_appended():
    # A client writes what it likes to the left; the proxy appends the address it saw at the end.
    spoofed = "6.6.6.6, 7.7.7.7, 203.0.113.9"
    assert forwarded_client(spoofed, proxies=1) == "203.0.113.9"
    assert forwarded_client("1.2.3.4, 203.0.113.9, 10.0.0.2", proxies=2) == "203.0.113.9"  # CDN, then balancer
    assert forwarded_client("203.0.113.9", proxies=2) is None  # fewer entries than proxies: nothing trusted
    assert forwarded_client(None, proxies=1) is None and forwarded_client("1.2.3.4", proxies=0) is None


def test_a_proxy_that_appends_its_own_header_line_is_read_after_the_clients():
    """HAProxy's ``option forwardfor`` adds a line of its own: the first line is the one the client forged."""
    from streamlit.runtime.context import StreamlitHeaders

    from ui.visitor import forwarded_for

    headers = StreamlitHeaders([("X-Forwarded-For", "203.0.113.77"), ("x-forwarded-for", "198.51.100.5")])
    assert forwarded_client(forwarded_for(headers), proxies=1) == "198.51.100.5"
    assert forwarded_for(StreamlitHeaders([("Host", "lab")])) is None


def test_many_made_up_first_entries_count_as_one_visitor():
    seen = {address_group(forwarded_client(f"10.9.{i}.{i}, 198.51.100.7", 1)) for i in range(50)}
    assert seen == {"198.51.100.7"}


def test_ipv6_addresses_count_by_their_64_and_ipv4_as_they_are():
    assert address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert address_group("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group("::ffff:192.0.2.1") == "192.0.2.1"  # an IPv4 client seen through IPv6
    assert address_group(" 192.0.2.1 ") == "192.0.2.1"
    assert address_group("not-an-address") is None and address_group("") is None


def test_a_proxys_or_a_nats_address_is_not_counted_as_a_visitors():
    """Behind a proxy on the same host Streamlit reports ``::ffff:127.0.0.1``: counting it would give every
    visitor one shared cap (one visitor's two runs would lock everyone out)."""
    for shared in ("127.0.0.1", "::ffff:127.0.0.1", "::1", "10.0.0.7", "192.168.1.20", "172.17.0.1", "fe80::1"):
        assert seen_directly(shared) is None, shared
    assert seen_directly("93.184.216.34") == "93.184.216.34"
    assert seen_directly("2001:db8:1:2::5") is None  # a documentation range: private to ipaddress
    assert seen_directly("2a00:1450:4001:80b::200e") == "2a00:1450:4001:80b::/64"


LONG = {"samples": 20_000, "batch_size": 1, "epochs": 5}


def _cookies_set(scope_extra: dict, request_cookie: bytes | None = None) -> list[str]:
    from ui.server import VisitorCookie

    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    headers = [(b"cookie", request_cookie)] if request_cookie else []
    scope = {"type": "http", "scheme": "http", "headers": headers, **scope_extra}
    asyncio.run(VisitorCookie(app)(scope, None, send))
    return [v.decode() for k, v in sent[0]["headers"] if k == b"set-cookie"]


def test_the_per_visitor_cap_survives_a_cleared_cookie(tmp_path):
    manager = RunManager(home=tmp_path, private_runs=True, max_per_visitor=2, max_concurrent=1)
    manager.start("compute_loss", LONG, visitor="token-a-0123456789abc", client="10.0.0.7")
    manager.start("compute_loss", LONG, visitor="token-b-0123456789abc", client="10.0.0.7")  # cookie cleared
    with pytest.raises(ValueError, match="the most one visitor may have at once"):
        manager.start("compute_loss", LONG, visitor="token-c-0123456789abc", client="10.0.0.7")
    manager.start("compute_loss", LONG, visitor="token-d-0123456789abc", client="10.0.0.8")  # someone else
    manager.controls.stop_all()


def test_the_visitor_cookie_is_http_only_and_secure_over_https(monkeypatch):
    (plain_http,) = _cookies_set({})
    assert "HttpOnly" in plain_http and "SameSite=Lax" in plain_http and "Secure" not in plain_http
    (over_https,) = _cookies_set({"scheme": "https"})
    assert "Secure" in over_https
    assert _cookies_set({}, b"lab_visitor=abcdefghijklmnopqrstuvwx") == []  # it has one: left alone
    monkeypatch.setenv("LAB_TRUST_PROXY", "1")
    (proxied,) = _cookies_set({"headers": [(b"x-forwarded-proto", b"https")]})
    assert "Secure" in proxied
