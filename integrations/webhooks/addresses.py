"""No server-side request forgery: a webhook URL must reach the public internet, not the OMS's own network.

A URL is refused when its host is, or resolves to, a private (RFC 1918, fc00::/7), loopback, link-local
(169.254/16 with the clouds' metadata service, fe80::/10), shared (100.64/10), multicast, reserved or
unspecified address, unless ``WEBHOOK_ALLOW_PRIVATE_URLS`` is true (a local receiver in development). The
check runs when the endpoint is registered and again before every request (a name may be re-pointed
later), and redirects are never followed."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class UnsafeUrl(ValueError):
    pass


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False))


def url_check(url: str) -> None:
    """Raise ``UnsafeUrl`` (a sentence for the user) if ``url`` may not receive webhooks."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(_("Enter an http:// or https:// URL."))
    if parts.username or parts.password:
        raise UnsafeUrl(_("The URL may not carry a user name or password; the signature authenticates us."))
    if private_allowed():
        return
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl(_("The URL's port is not valid.")) from None
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith((".localhost", ".local", ".internal")):
            raise UnsafeUrl(_("This host name is local: webhooks go to public addresses only.")) from None
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise UnsafeUrl(_("The host name %(host)s does not resolve.") % {"host": host}) from None
    for address in addresses:
        if _forbidden(address):
            raise UnsafeUrl(
                _(
                    "%(host)s is a private, loopback or link-local address (%(address)s): webhooks go to "
                    "public addresses only."
                )
                % {"host": host, "address": address}
            )
