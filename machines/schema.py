"""How machine clients' signatures appear in the OpenAPI schema: one
security scheme per kind of client (`producerSignature`, `bridgeSignature`).
Imported from MachinesConfig.ready()."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SignatureScheme(OpenApiAuthenticationExtension):
    target_class = "machines.authentication.SignatureAuthentication"
    match_subclasses = True

    @property
    def name(self):
        return f"{self.target.kind}Signature"

    def get_security_definition(self, auto_schema):
        # OpenAPI has no HMAC scheme; the three headers travel together and
        # the key id is the one a client configures.
        return {
            "type": "apiKey",
            "in": "header",
            "name": self.target.key_header,
            "description": (
                f"HMAC-signed request. Send `{self.target.key_header}: <key id>`, "
                "`X-Timestamp: <unix seconds>` (within 300 s of the server clock) and "
                "`X-Signature: sha256=<hex>`, the lowercase hex HMAC-SHA256 keyed with the "
                "secret's UTF-8 bytes of `<X-Timestamp>.<raw request body>`."
            ),
        }
