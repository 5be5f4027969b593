"""Where a company's webhook may point: public addresses only, so a company user cannot make the server call into
its own network (SSRF: loopback admin ports, the database, a cloud metadata endpoint, the office LAN).

Checked twice:
- when the URL is saved (:func:`check_saved_url`): the scheme, literal addresses in any spelling (``127.1``,
  ``2130706433``, ``[::ffff:127.0.0.1]``) and names that are local by definition (``localhost``, ``*.internal``);
- when a notification is sent (:func:`pin`): the host name is resolved, *every* address it resolves to is
  checked, and the request is sent to the checked address (Host header and TLS name kept), so a name that resolved
  to a public address at save time and to ``127.0.0.1`` now (DNS rebinding) is refused, and no second lookup
  between the check and the connection can change the target. Redirects are never followed.

An agency whose receivers live on an internal network sets ``RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE=true`` (an admin's
decision, server-wide). Even then link-local and metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254),
multicast, unspecified and reserved addresses stay refused: no receiver lives there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list]

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("100.100.100.200")})  # AWS/GCP/Azure, AWS IPv6, Alibaba
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.azure.internal", "instance-data"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet", ".corp")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(ValueError):
    """The webhook target is not allowed; the message says why and how to allow it where that is possible."""


@dataclass(frozen=True)
class PinnedTarget:
    """A webhook URL rewritten to one checked address, with the Host header and TLS name of the original."""

    url: str
    host_header: str
    tls_name: str | None
    auth: tuple[str, str] | None = None  # credentials written into the URL (user:password@host)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo client), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    return None


def refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a connection to ``ip`` is refused, or None when it is allowed."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        return refusal(inner, allow_private)
    if ip in METADATA_ADDRESSES or ip.is_link_local:
        return f"{ip} is a link-local or cloud metadata address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved or (
            isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255")):
        return f"{ip} is not an address a receiver can have"
    if not ip.is_global and not allow_private:
        kind = "a loopback" if ip.is_loopback else "a private or internal"
        return (f"{ip} is {kind} address; webhooks go to public addresses only "
                "(an admin may allow internal receivers with RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE=true)")
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form a resolver accepts (``127.1``, ``0x7f000001``, ``[::1]``)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:  # inet_aton accepts the shorthand and numeric forms getaddrinfo would turn into an address
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _host_of(url: str) -> tuple[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"webhook URL {url!r} must start with https:// (or http://) and name a host")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise TargetRefused(f"webhook URL {url!r} has an invalid port") from None
    return parts.hostname.rstrip(".").lower(), parts


def check_saved_url(url: str | None, allow_private: bool) -> None:
    """Refuse a webhook URL that points inside the server's network by its spelling alone (no DNS lookup: a name
    that does not resolve today may tomorrow, and the send-time check covers what names resolve to)."""
    if not url:
        return
    host, _ = _host_of(url)
    ip = literal_address(host)
    if ip is not None:
        reason = refusal(ip, allow_private)
        if reason:
            raise TargetRefused(f"webhook URL refused: {reason}")
        return
    if host in METADATA_NAMES:
        raise TargetRefused(f"webhook URL refused: {host} is a cloud metadata endpoint")
    if not allow_private and (host in LOOPBACK_NAMES or host.endswith(LOCAL_SUFFIXES) or "." not in host):
        raise TargetRefused(f"webhook URL refused: {host} is a local network name; webhooks go to public addresses "
                            "only (an admin may allow internal receivers with RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE=true)")


def pin(url: str, allow_private: bool, resolver: Resolver | None = None) -> PinnedTarget:
    """Resolve the URL's host, refuse it unless every address is allowed, and aim the URL at the first one."""
    check_saved_url(url, allow_private)
    host, parts = _host_of(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = ip = literal_address(host)
    if ip is None:
        try:
            infos = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"webhook host {host} could not be resolved ({type(exc).__name__})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        if not addresses:
            raise TargetRefused(f"webhook host {host} has no address")
        for address in addresses:
            reason = refusal(address, allow_private)
            if reason:
                raise TargetRefused(f"webhook host {host} refused: {reason}")
        ip = addresses[0]
    shown = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    netloc = shown + (f":{parts.port}" if parts.port else "")
    host_header = parts.netloc.rpartition("@")[2]  # without credentials
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    auth = (parts.username, parts.password or "") if parts.username else None
    return PinnedTarget(url=pinned, host_header=host_header, auth=auth,
                        tls_name=host if parts.scheme == "https" and literal is None else None)
