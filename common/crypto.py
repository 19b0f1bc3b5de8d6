"""Encryption of secrets at rest (channel credentials, carrier and e-invoicing credentials, webhook secrets):
``cryptography``'s Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) through ``MultiFernet``.

Keys come from the settings, never from the database:

- ``OMS_ENCRYPTION_KEYS``: a list of Fernet keys (the environment variable is comma-separated). The first one
  encrypts; every one of them decrypts. Rotating is: put a new key first, restart, run
  ``manage.py rotate_encryption_key``, then remove the old key.
- ``OMS_ENCRYPTION_KEY_FILE`` (development only, ``make run``): when no key is configured, a key file (one key
  per line, first one encrypts) that is generated once, readable by its owner only. Production settings
  refuse to start without ``OMS_ENCRYPTION_KEYS``.

The model field that uses this is ``common.fields.EncryptedTextField``.
"""

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

__all__ = [
    "DecryptionError",
    "decrypt",
    "encrypt",
    "encryption_keys_problem",
    "is_current",
    "keys_reset",
    "rotate",
]


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key (a key was removed too early, or the
    value was not written by us)."""


def encryption_keys_problem(keys: list[str]) -> str | None:
    """Why these keys cannot be used (a sentence for an operator), or None when they can."""
    if not keys:
        return "no key is configured"
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.strip().encode())
        except (ValueError, TypeError):
            return (
                f"key number {position} is not a Fernet key (32 random bytes in URL-safe base64, 44 "
                'characters); make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
    if len({key.strip() for key in keys}) != len(keys):
        return "the same key is listed twice"
    return None


def _read_or_create_key_file(path: Path) -> list[str]:
    """The development key file: created once (atomically, mode 0600, so the web server, the worker and beat
    started together agree on one key), then read."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it meanwhile
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


_lock = threading.Lock()
_cache: dict[str, object] = {}


def _configured_keys() -> list[str]:
    from django.conf import settings

    keys = [key.strip() for key in getattr(settings, "OMS_ENCRYPTION_KEYS", []) or [] if key.strip()]
    source = "OMS_ENCRYPTION_KEYS"
    key_file = getattr(settings, "OMS_ENCRYPTION_KEY_FILE", "")
    if not keys and key_file:
        keys = _read_or_create_key_file(Path(key_file))
        source = f"the key file {key_file}"
    problem = encryption_keys_problem(keys)
    if problem:
        raise ImproperlyConfigured(
            f"Secrets cannot be encrypted: {problem} in {source}. Set OMS_ENCRYPTION_KEYS (see .env.example)."
        )
    return keys


def _fernets() -> tuple[MultiFernet, Fernet]:
    """The MultiFernet of every key, and the Fernet of the first (current) one; built once per process and
    again when a test overrides the settings."""
    with _lock:
        if "multi" not in _cache:
            keys = _configured_keys()
            fernets = [Fernet(key.encode()) for key in keys]
            _cache["multi"] = MultiFernet(fernets)
            _cache["current"] = fernets[0]
        return _cache["multi"], _cache["current"]  # type: ignore[return-value]


def keys_reset(**kwargs) -> None:
    """Forget the keys read so far (the settings changed)."""
    if kwargs.get("setting") in (None, "OMS_ENCRYPTION_KEYS", "OMS_ENCRYPTION_KEY_FILE"):
        with _lock:
            _cache.clear()


setting_changed.connect(keys_reset, dispatch_uid="common.crypto.keys_reset")


def encrypt(plaintext: str) -> str:
    """A Fernet token (ASCII text) of ``plaintext`` under the current key. Not deterministic: the same text
    gives a different token each time, so encrypted values cannot be searched."""
    multi, _current = _fernets()
    return multi.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    multi, _current = _fernets()
    try:
        return multi.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted with the keys in OMS_ENCRYPTION_KEYS: was the key that "
            "encrypted it removed before `manage.py rotate_encryption_key` had run?"
        ) from exc


def is_current(token: str) -> bool:
    """Whether the token was encrypted with the current (first) key."""
    _multi, current = _fernets()
    try:
        current.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def is_token(value: str) -> bool:
    """Whether ``value`` decrypts with one of the configured keys (used to tell tokens from plaintext when
    existing rows are migrated)."""
    multi, _current = _fernets()
    try:
        multi.decrypt(value.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def rotate(token: str) -> str:
    """The same secret, encrypted again with the current key (keeping its original timestamp)."""
    multi, _current = _fernets()
    try:
        return multi.rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionError("A stored secret cannot be decrypted with the configured keys.") from exc
