"""Who may control a run: open to everyone locally, private to its browser in a hosted demo.

With ``private_runs`` a run can be stopped, paused, steered or deleted only by the
visitor (browser) that started it, and each visitor holds at most ``max_per_visitor``
active runs. The store keeps only a hash of a visitor's token, so the file alone
grants nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass


class NotYourRun(PermissionError):
    """Raised when a visitor tries to control a run another browser started (private runs)."""

    def __init__(self) -> None:
        super().__init__(
            "This run was started in another browser: you can watch it, but only the person "
            "who started it can stop, pause or delete it. Start your own run to experiment."
        )


def visitor_hash(token: str | None) -> str | None:
    """What the store keeps of a visitor's token: a hash."""
    return hashlib.sha256(token.encode()).hexdigest()[:32] if isinstance(token, str) and token else None


@dataclass(frozen=True)
class AccessPolicy:
    private_runs: bool = False
    max_per_visitor: int | None = None  # active runs one visitor may hold (None: no cap)

    def may_control(self, owner: str | None, visitor: str | None) -> bool:
        """Whether the browser with token ``visitor`` may control a run owned by hash ``owner``.

        Always, unless runs are private; then only its owner (a run started without a
        visitor, from a script, is nobody's to control from a browser).
        """
        if not self.private_runs:
            return True
        return owner is not None and owner == visitor_hash(visitor)

    def check(self, owner: str | None, visitor: str | None) -> None:
        if not self.may_control(owner, visitor):
            raise NotYourRun()

    def check_cap(self, owner: str | None, active_owned: int) -> None:
        """Refuse a start when the visitor already holds ``max_per_visitor`` active runs."""
        if owner is None or not self.max_per_visitor or active_owned < self.max_per_visitor:
            return
        raise ValueError(
            f"You already have {active_owned} run{'s' * (active_owned > 1)} training or waiting, the most one "
            "visitor may have at once here. Stop one, or wait until it finishes, then start again."
        )


def address_group(address: str | None) -> str | None:
    """What the per-address cap counts: an IPv4 address as it is, an IPv6 address by its /64 (one
    subscriber usually holds a whole /64, so counting single IPv6 addresses would count nothing);
    None for what is not an address."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return None
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # an IPv4 client seen through an IPv6 socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def forwarded_client(header: str | None, proxies: int) -> str | None:
    """The client's address as the trusted proxies saw it: the ``proxies``-th entry of
    ``X-Forwarded-For`` from the right (a client writes any entries it likes to the left of the
    ones the proxies append); None if the header has fewer entries than there are proxies."""
    if not proxies or not isinstance(header, str):
        return None
    entries = [entry.strip() for entry in header.split(",")]
    return entries[-proxies] if len(entries) >= proxies and entries[-proxies] else None


def seen_directly(address: str | None) -> str | None:
    """A connection's own address as the per-address cap may count it: None for a loopback or private one
    (``::ffff:127.0.0.1`` included), which means a proxy or a NAT on the way, where every visitor would
    share one address and one cap; the cap then counts cookies only, and the home page says so."""
    group = address_group(address)
    if group is None:
        return None
    ip = ipaddress.ip_network(group, strict=False).network_address
    return None if (ip.is_loopback or ip.is_private or ip.is_link_local) else group
