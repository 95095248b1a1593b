"""Who may use the codec server: the rules, parsed and checked, and the decision for a request.

A request is served when it comes from an allowed address (CODEC_SERVER_ALLOW_IPS, loopback
by default) or carries one of the bearer tokens (CODEC_SERVER_TOKENS). Browsers get a
second rule on top: a request that names an Origin must name an allowed one
(CODEC_SERVER_ORIGINS), so another web page open in an allowed operator's browser cannot
use that browser's address to decode. Pure functions: the server (voiceorder/codec_server)
feeds them the request's facts.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_list(text: str) -> tuple[Network, ...]:
    """`127.0.0.1,::1,10.8.0.0/16` → networks; `none` allows no address (tokens only).

    (An empty variable cannot say "none": the settings read it as unset, i.e. the default.)
    """
    if text.strip().lower() == "none":
        return ()
    networks = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network (e.g. 127.0.0.1 or 10.8.0.0/16)"
            ) from None
    return tuple(networks)


def parse_origins(text: str) -> tuple[str, ...]:
    """`http://127.0.0.1:8233,https://temporal.example` → origins, as browsers send them."""
    origins = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        parts = urlsplit(entry)
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or parts.path not in {"", "/"}
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                f"{entry!r} is not an origin: scheme://host[:port] with no path, "
                "e.g. http://127.0.0.1:8233"
            )
        origins.append(entry.rstrip("/"))
    return tuple(origins)


def parse_tokens(text: str | None) -> tuple[str, ...]:
    tokens = tuple(filter(None, (part.strip() for part in (text or "").split(","))))
    if any(len(token) < 16 for token in tokens):
        raise ValueError("each codec server token needs at least 16 characters")
    return tokens


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # why not, for the log and the 403 body (never the token itself)


@dataclass(frozen=True)
class AccessRules:
    networks: tuple[Network, ...]
    tokens: tuple[str, ...] = field(repr=False)
    origins: tuple[str, ...]

    def origin_allowed(self, origin: str | None) -> bool:
        """No Origin (a CLI, curl) passes this rule; a browser's must be on the list."""
        return origin is None or origin.rstrip("/") in self.origins

    def decide(self, *, peer: str | None, origin: str | None, authorization: str | None) -> Verdict:
        if not self.origin_allowed(origin):
            return Verdict(False, f"origin {origin} is not in CODEC_SERVER_ORIGINS")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and self._known_token(token.strip()):
                return Verdict(True, "token")
        if self._address_allowed(peer):
            return Verdict(True, "address")
        return Verdict(False, "not from CODEC_SERVER_ALLOW_IPS and no valid bearer token")

    def _known_token(self, token: str) -> bool:
        # Compare with every token, in constant time each: no early exit to time.
        found = False
        for known in self.tokens:
            found |= hmac.compare_digest(token.encode(), known.encode())
        return found

    def _address_allowed(self, peer: str | None) -> bool:
        if peer is None:
            return False
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
