"""Who may control a run, and where a visitor connects from: the entries a proxy appended, IPv6 by /64."""

from runtime.serving.access import address_group, forwarded_client, seen_directly


def test_the_client_address_is_the_entry_the_trusted_proxy_appended():
    # A client writes what it likes to the left; the proxy appends the address it saw at the end.
    spoofed = "6.6.6.6, 7.7.7.7, 203.0.113.9"
    assert forwarded_client(spoofed, proxies=1) == "203.0.113.9"
    assert forwarded_client("1.2.3.4, 203.0.113.9, 10.0.0.2", proxies=2) == "203.0.113.9"  # CDN, then balancer
    assert forwarded_client("203.0.113.9", proxies=2) is None  # fewer entries than proxies: nothing trusted
    assert forwarded_client(None, proxies=1) is None and forwarded_client("1.2.3.4", proxies=0) is None


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
