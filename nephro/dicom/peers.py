"""Who may associate: ``NEPHRO_DICOM_ALLOWED_AES`` entries, each ``AE`` (from any address)
or ``AE@address`` / ``AE@network`` (only from there; list the AE once per address).

Pure functions, no Django: settings.py validates the list with ``parse`` at start-up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# AE title (PS3.5 6.2): at most 16 characters, no backslash or control characters.
_AE_MAX = 16


class BadAllowList(ValueError):
    pass


def parse(entries: Iterable[str]) -> dict[str, list[Network] | None]:
    """AE title -> the networks it may call from (None: from anywhere)."""
    allowed: dict[str, list[Network] | None] = {}
    for entry in entries:
        title, at, address = entry.strip().partition("@")
        title = title.strip()
        if not title or len(title) > _AE_MAX or "\\" in title or not title.isprintable():
            raise BadAllowList(f"{entry!r}: not an AE title (1 to 16 characters)")
        if not at:
            allowed[title] = None
            continue
        try:
            network = ipaddress.ip_network(address.strip(), strict=False)
        except ValueError:
            raise BadAllowList(f"{entry!r}: {address!r} is not an IP address") from None
        if title in allowed and allowed[title] is None:
            continue  # already allowed from anywhere
        allowed.setdefault(title, [])
        networks = allowed[title]
        assert networks is not None
        networks.append(network)
    return allowed


def permits(allowed: dict[str, list[Network] | None], title: str, address: str) -> bool:
    if title not in allowed:
        return False
    networks = allowed[title]
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
