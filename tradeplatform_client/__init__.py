"""Client for strategy authors: signs requests to the trade platform with its
producer HMAC scheme.

Standard library only and no Django: copy this package next to a strategy
engine, or read `signing.py` as the reference for another language.
"""

from tradeplatform_client.signing import BRIDGE_KEY_HEADER, PRODUCER_KEY_HEADER, post_signed, sign

__all__ = ["BRIDGE_KEY_HEADER", "PRODUCER_KEY_HEADER", "post_signed", "sign"]
