"""Client for strategy authors and bridge authors: signs requests to the
trade platform with its HMAC scheme and retries what is safe to retry.

Standard library only and no Django: `pip install ./tradeplatform_client`
(its own pyproject.toml), or read `signing.py` as the reference for another
language.
"""

from tradeplatform_client.retrying import GaveUp, SignedClient
from tradeplatform_client.signing import BRIDGE_KEY_HEADER, PRODUCER_KEY_HEADER, post_signed, sign

__all__ = ["BRIDGE_KEY_HEADER", "PRODUCER_KEY_HEADER", "GaveUp", "SignedClient", "post_signed", "sign"]
