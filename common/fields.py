"""``EncryptedTextField``: a secret stored encrypted (Fernet, common/crypto.py), shown in clear only to the
code that uses it, never in a form.

Declare it like a text field, in any app (this is the bottom layer)::

    from common.fields import EncryptedTextField

    class CarrierAccount(models.Model):
        password = EncryptedTextField(_("password"), blank=True)

- The database holds a Fernet token (text); the model attribute holds the plaintext. ``""`` means "not
  set" and is stored as ``""`` (so "is it set?" needs no decryption: ``.exclude(password="")``).
- Tokens are not deterministic: filtering on the value finds nothing, so only ``isnull`` and ``exact`` /
  ``in`` against ``""`` make sense; other lookups are refused.
- Forms (Django admin, ModelForms) get a write-only input: the value is never rendered back, the page says
  whether one is set, leaving it blank keeps it, and a checkbox erases it.
- ``manage.py rotate_encryption_key`` finds every field of this class by itself and re-encrypts it with the
  current key.
- Existing plaintext columns: change the field in three steps of one migration (see
  orders/migrations/0016_encrypt_channel_secrets.py): to ``TextField``, ``RunPython`` that encrypts with
  ``common.crypto.encrypt`` (and decrypts backwards), then to ``EncryptedTextField``.
"""

from django import forms
from django.core.exceptions import FieldError
from django.db import models
from django.db.models import lookups
from django.utils.translation import gettext_lazy as _

from . import crypto

# The value a form gives when "erase" is ticked.
CLEAR = object()


class SecretWidget(forms.PasswordInput):
    """A password input that never renders the stored value, says whether one is set, and offers to erase
    it."""

    template_name = "common/widgets/secret.html"

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)

    def clear_name(self, name: str) -> str:
        return f"{name}__clear"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["is_set"] = bool(value) and value is not CLEAR
        context["widget"]["clear_name"] = self.clear_name(name)
        context["widget"]["clear_id"] = f"{context['widget']['attrs'].get('id') or name}__clear"
        return context

    def format_value(self, value):
        return None  # never rendered

    def value_from_datadict(self, data, files, name):
        if data.get(self.clear_name(name)):
            return CLEAR
        return super().value_from_datadict(data, files, name)

    def value_omitted_from_data(self, data, files, name):
        return name not in data and self.clear_name(name) not in data


class SecretFormField(forms.CharField):
    """Blank keeps the stored secret; ``CLEAR`` erases it; anything else replaces it."""

    widget = SecretWidget

    def to_python(self, value):
        if value is CLEAR:
            return CLEAR
        return super().to_python(value)

    def validate(self, value):
        if value is CLEAR:
            return
        super().validate(value)

    def run_validators(self, value):
        if value is CLEAR:
            return
        super().run_validators(value)

    def bound_data(self, data, initial):
        # Re-shown after an error: "set" follows the stored value unless a new one was typed.
        return initial if not data or data is CLEAR else data

    def has_changed(self, initial, data):
        if data is CLEAR:
            return bool(initial)
        return bool(data) and data != initial


class _EmptyOnly:
    """A lookup on a secret may only compare with "" (not set): a token cannot be matched."""

    def get_prep_lookup(self):
        values = self.rhs if isinstance(self.rhs, list | tuple | set) else [self.rhs]
        if any(value not in ("", None) for value in values):
            raise FieldError("An encrypted field can only be compared with '' (not set), never searched.")
        return super().get_prep_lookup()


class SecretExact(_EmptyOnly, lookups.Exact):
    pass


class SecretIn(_EmptyOnly, lookups.In):
    pass


class EncryptedTextField(models.TextField):
    """A secret, encrypted at rest with the keys of ``OMS_ENCRYPTION_KEYS`` (see the module's docstring)."""

    description = _("Secret (encrypted)")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return SecretExact
        if lookup_name == "in":
            return SecretIn
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # Django answers "Unsupported lookup": a token cannot be searched

    def get_transform(self, lookup_name):
        return None

    def value_to_string(self, obj):
        return ""  # dumpdata and serializers never write a secret out

    def save_form_data(self, instance, data):
        if data is CLEAR:
            setattr(instance, self.attname, "")
        elif data:
            setattr(instance, self.attname, data)
        # blank: the stored secret is kept

    def formfield(self, **kwargs):
        return super().formfield(
            **{"form_class": SecretFormField, "widget": SecretWidget, "required": not self.blank, **kwargs}
        )
