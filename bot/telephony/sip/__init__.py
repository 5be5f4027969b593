"""A direct SIP carrier: a small RFC 3261 user agent (UDP and TCP) with G.711 RTP media (docs/decisions.md)."""
