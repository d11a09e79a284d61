"""drf-spectacular extensions: how our authentication classes appear in the
OpenAPI schema. Imported from TradePlatformConfig.ready()."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class BearerScheme(SimpleJWTScheme):
    target_class = "tradeplatform.authentication.BearerAuthentication"
    name = "bearerAuth"
