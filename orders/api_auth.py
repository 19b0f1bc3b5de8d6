"""``Authorization: Bearer <api key>``: the key belongs to a channel and carries scopes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiKey
from .services.api_keys import api_key_touch


class ApiClient:
    """The caller of an API request: a channel, through one of its keys."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.channel = key.channel

    def __str__(self) -> str:
        return f"api:{self.channel.code}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = ApiKey.objects.select_related("channel").filter(hashed_key=ApiKey.hash(parts[1])).first()
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
        if not key.channel.active:
            raise exceptions.AuthenticationFailed("This key's channel is inactive.")
        api_key_touch(key=key)
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "orders.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A channel's API key: `Bearer oms_...`."}
