"""How producer signatures appear in the OpenAPI schema. Imported from
SignalsConfig.ready()."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ProducerSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "signals.authentication.ProducerSignatureAuthentication"
    name = "producerSignature"

    def get_security_definition(self, auto_schema):
        # OpenAPI has no HMAC scheme; the three headers travel together and
        # the key id is the one a client configures.
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Producer-Id",
            "description": (
                "HMAC-signed request (contract §2). Send `X-Producer-Id: <key id>`, "
                "`X-Timestamp: <unix seconds>` (within 300 s of the server clock) and "
                "`X-Signature: sha256=<hex>`, the lowercase hex HMAC-SHA256 keyed with the "
                "secret's UTF-8 bytes of `<X-Timestamp>.<raw request body>`."
            ),
        }
