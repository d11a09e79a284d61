"""Client for strategy authors: signs requests to the trade platform (contract §2).

Standard library only and no Django: copy this package next to a strategy
engine, or read `signing.py` as the reference for another language.
"""

from tradeplatform_client.signing import post_signed, sign

__all__ = ["post_signed", "sign"]
