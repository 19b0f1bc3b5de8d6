"""``Authorization: Bearer <api key>``: the key belongs to a channel and carries scopes."""

import time
from uuid import uuid4

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from common.cache import cache_get, cache_set

from .models import ApiKey, Channel
from .services.api_keys import api_key_touch

# Keys are read once per process and kept KEY_CACHE_SECONDS, as long as the shared generation below has not
# moved: saving or deleting any key or channel (a revocation, a deactivated channel, new scopes) moves it
# after commit, so every process reads its keys again at their next request. Without the shared cache
# (Redis down) nothing is kept: every request reads its key.
KEY_CACHE_SECONDS = 30.0
KEYS_GENERATION = "orders:api_keys:generation"
_keys: dict[str, tuple[float, str, ApiKey]] = {}


def api_keys_changed(**_kwargs) -> None:
    """Every process forgets its keys: this one now, the others once the change commits."""
    _keys.clear()

    def forget() -> None:
        _keys.clear()
        cache_set(KEYS_GENERATION, uuid4().hex, None)

    transaction.on_commit(forget)


for _model in (ApiKey, Channel):
    post_save.connect(api_keys_changed, sender=_model, dispatch_uid=f"api_keys_changed_{_model.__name__}")
    post_delete.connect(api_keys_changed, sender=_model, dispatch_uid=f"api_keys_deleted_{_model.__name__}")


def _key(hashed: str) -> ApiKey | None:
    generation = cache_get(KEYS_GENERATION)
    if generation is None and cache_set(KEYS_GENERATION, uuid4().hex, None):
        generation = cache_get(KEYS_GENERATION)
    now = time.monotonic()
    kept = _keys.get(hashed)
    if kept is not None and generation is not None and kept[1] == generation and now < kept[0]:
        return kept[2]
    key = ApiKey.objects.select_related("channel").filter(hashed_key=hashed).first()
    if key is not None and generation is not None:
        if len(_keys) > 10_000:
            _keys.clear()
        _keys[hashed] = (now + KEY_CACHE_SECONDS, generation, key)
    return key


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
        key = _key(ApiKey.hash(parts[1]))
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
