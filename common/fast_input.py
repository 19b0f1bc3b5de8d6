"""A fast path for DRF input serializers on hot endpoints (order intake): the same validated data for a
well-formed body, in plain Python, or ``None`` so the caller runs the serializer itself.

``fast_validator(SerializerClass)`` reads the serializer's fields once (names, required, defaults,
``allow_null`` / ``allow_blank``, lengths, bounds, choices, nested serializers and their ``validate``) and
returns a function ``body -> validated data | None``. It accepts only values it can take exactly as DRF
would (strings as strings, integers as ints, booleans as booleans, decimals written plainly); anything
else, and anything DRF would refuse, answers ``None``: the caller then validates with the serializer, so
every error message, code and path stays DRF's own. What the fast path returns equals what
``serializer.validated_data`` would be, with the same key order and the same value types
(``tests/api/test_fast_input.py`` compares both on generated bodies).

Why: DRF deep-copies and binds every declared field of every nested serializer on each instance (~70
fields for an order), then walks them; for a valid order that was ~4.5 ms of CPU under load, more than
the order's SQL. The fields here are read once per process.
"""

import decimal
import re
from collections.abc import Callable
from typing import Any

from django.core import validators as django_validators
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.fields import empty

_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")  # DRF's ProhibitNull / ProhibitSurrogate validators


class _Reject(Exception):
    """The fast path does not take this body: validate it with the serializer."""


_REJECT = _Reject()

# A node turns the raw value of one key (``empty`` when absent) into its validated value, returns
# ``_SKIP`` when the key is left out of the validated data, or raises ``_Reject``.
_SKIP = object()
Node = Callable[[Any], Any]


def _missing(field) -> Callable[[], Any]:
    """What DRF does with an absent key: required → refused, a default → the default, else left out."""
    if field.required:

        def absent():
            raise _REJECT

        return absent
    default = field.default
    if default is empty:
        return lambda: _SKIP
    if callable(default):
        if getattr(default, "requires_context", False):

            def absent():
                raise _REJECT

            return absent
        return default
    return lambda: default


def _validators_except(field, known: tuple) -> list:
    return [v for v in field.validators if not isinstance(v, known)]


def _limit(validator):
    limit = validator.limit_value
    if callable(limit):
        raise TypeError("callable limits are not supported")
    return limit


def _char(field: serializers.CharField) -> Node:
    absent = _missing(field)
    allow_null, allow_blank, trim = field.allow_null, field.allow_blank, field.trim_whitespace
    max_length = min_length = None
    for v in field.validators:
        if isinstance(v, django_validators.MaxLengthValidator):
            max_length = _limit(v)
        elif isinstance(v, django_validators.MinLengthValidator):
            min_length = _limit(v)
    others = _validators_except(
        field,
        (
            django_validators.MaxLengthValidator,
            django_validators.MinLengthValidator,
            drf_fields.ProhibitNullCharactersValidator,
            drf_fields.ProhibitSurrogateCharactersValidator,
        ),
    )
    if any(getattr(v, "requires_context", False) for v in others):
        raise TypeError(f"validators with context are not supported ({field!r})")

    def node(value):
        if value is empty:
            return absent()
        if value is None:
            if allow_null:
                return None
            raise _REJECT
        if type(value) is not str:  # DRF also takes numbers (str() of them): the serializer does that
            raise _REJECT
        text = value.strip() if trim else value
        if text == "" or value == "":
            if allow_blank:
                return ""
            raise _REJECT
        if (max_length is not None and len(text) > max_length) or (
            min_length is not None and len(text) < min_length
        ):
            raise _REJECT
        if _BAD_CHARACTERS.search(text):
            raise _REJECT
        for validator in others:
            try:
                validator(text)
            except DjangoValidationError:
                raise _REJECT from None
        return text

    return node


def _choice(field: serializers.ChoiceField) -> Node:
    absent = _missing(field)
    allow_null, allow_blank = field.allow_null, field.allow_blank
    choices = dict(field.choice_strings_to_values)
    if field.validators:
        raise TypeError(f"validators on a choice field are not supported ({field!r})")

    def node(value):
        if value is empty:
            return absent()
        if value is None:
            if allow_null:
                return None
            raise _REJECT
        if type(value) is not str:
            raise _REJECT
        if value == "" and allow_blank:
            return ""
        try:
            return choices[value]
        except KeyError:
            raise _REJECT from None

    return node


def _integer(field: serializers.IntegerField) -> Node:
    absent = _missing(field)
    allow_null = field.allow_null
    low = high = None
    for v in field.validators:
        if isinstance(v, django_validators.MinValueValidator):
            low = _limit(v)
        elif isinstance(v, django_validators.MaxValueValidator):
            high = _limit(v)
        else:
            raise TypeError(f"validator {v!r} is not supported ({field!r})")

    def node(value):
        if value is empty:
            return absent()
        if value is None:
            if allow_null:
                return None
            raise _REJECT
        if type(value) is not int:  # bool is not int here; "2" and 2.0 go to the serializer
            raise _REJECT
        if (low is not None and value < low) or (high is not None and value > high):
            raise _REJECT
        return value

    return node


def _decimal(field: serializers.DecimalField) -> Node:
    absent = _missing(field)
    if field.localize:
        raise TypeError("localized decimals are not supported")
    if field.max_digits is None or field.decimal_places is None or field.allow_null:
        raise TypeError(f"only bounded, non-null decimals are supported ({field!r})")
    low = high = None
    for v in field.validators:
        if isinstance(v, django_validators.MinValueValidator):
            low = _limit(v)
        elif isinstance(v, django_validators.MaxValueValidator):
            high = _limit(v)
        else:
            raise TypeError(f"validator {v!r} is not supported ({field!r})")
    whole = field.max_digits - field.decimal_places
    places = field.decimal_places
    # Plain notation only: an optional minus, 1 to ``whole`` digits, up to ``places`` decimals. DRF takes
    # more (exponents, spaces, "5.", leading "+"): those go to the serializer.
    fraction = rf"(?:\.[0-9]{{1,{places}}})?" if places else ""
    pattern = re.compile(rf"-?[0-9]{{1,{whole}}}{fraction}")
    exponent = decimal.Decimal(1).scaleb(-places)
    context = decimal.Context(prec=field.max_digits)

    def node(value):
        if value is empty:
            return absent()
        kind = type(value)
        if kind is str:
            text = value
        elif kind is int or kind is float:
            text = str(value)  # what DRF's smart_str gives
        else:
            raise _REJECT
        if not pattern.fullmatch(text):
            raise _REJECT
        number = decimal.Decimal(text)
        if (low is not None and number < low) or (high is not None and number > high):
            raise _REJECT
        # DRF quantizes with the field's precision and the current context's rounding (exact here: the
        # pattern allows no more decimals than the field keeps).
        return number.quantize(exponent, context=context)

    return node


def _boolean(field: serializers.BooleanField) -> Node:
    absent = _missing(field)
    allow_null = field.allow_null
    if field.validators:
        raise TypeError(f"validators on a boolean field are not supported ({field!r})")

    def node(value):
        if value is empty:
            return absent()
        if value is True or value is False:
            return value
        if value is None and allow_null:
            return None
        raise _REJECT  # "true", 1, "on"...: the serializer

    return node


def _unsupported(field) -> Node:
    """A field the fast path does not know (a datetime, a list...): absent, DRF's rule for absent keys;
    present, the serializer takes the body."""
    absent = _missing(field)

    def node(value):
        if value is empty:
            return absent()
        raise _REJECT

    return node


def _serializer(serializer: serializers.Serializer, *, root: bool = False) -> Node:
    absent = None if root else _missing(serializer)
    allow_null = serializer.allow_null
    if serializer.validators:
        raise TypeError(f"serializer-level validators are not supported ({serializer!r})")
    members: list[tuple[str, Node]] = []
    for name, field in serializer.fields.items():
        if field.read_only:
            raise TypeError(f"read-only fields are not supported ({name})")
        if field.source_attrs != [name]:
            raise TypeError(f"a source other than the field's name is not supported ({name})")
        if getattr(serializer, f"validate_{name}", None) is not None:
            raise TypeError(f"validate_{name} methods are not supported")
        members.append((name, _node(field)))
    overridden = type(serializer).validate is not serializers.Serializer.validate
    validate = serializer.validate if overridden else None

    def node(value):
        if value is empty:
            return absent()
        if value is None:
            if allow_null:
                return None
            raise _REJECT
        if type(value) is not dict:
            raise _REJECT
        result = {}
        for name, member in members:
            item = member(value.get(name, empty))
            if item is not _SKIP:
                result[name] = item
        if validate is not None:
            try:
                result = validate(result)
            except (serializers.ValidationError, DjangoValidationError):
                raise _REJECT from None
            if result is None:
                raise _REJECT
        return result

    return node


def _list_of(serializer: serializers.ListSerializer) -> Node:
    absent = _missing(serializer)
    allow_empty, max_length, min_length = serializer.allow_empty, serializer.max_length, serializer.min_length
    if serializer.validators or type(serializer).validate is not serializers.ListSerializer.validate:
        raise TypeError("list serializer validators are not supported")
    child = _serializer(serializer.child)

    def node(value):
        if value is empty:
            return absent()
        if type(value) is not list:
            raise _REJECT
        count = len(value)
        if (
            (not allow_empty and count == 0)
            or (max_length is not None and count > max_length)
            or (min_length is not None and count < min_length)
        ):
            raise _REJECT
        return [child(item) for item in value]

    return node


def _node(field) -> Node:
    # Subclasses first: EmailField and RegexField are CharFields whose validators run as they are.
    if isinstance(field, serializers.ListSerializer):
        return _list_of(field)
    if isinstance(field, serializers.Serializer):
        return _serializer(field)
    kind = type(field)
    if kind in (serializers.CharField, serializers.EmailField, serializers.RegexField):
        return _char(field)
    if kind is serializers.ChoiceField:
        return _choice(field)
    if kind is serializers.IntegerField:
        return _integer(field)
    if kind is serializers.DecimalField:
        return _decimal(field)
    if kind is serializers.BooleanField:
        return _boolean(field)
    return _unsupported(field)


def fast_validator(serializer_class: type[serializers.Serializer]) -> Callable[[Any], dict | None]:
    """``body -> validated data``, or ``None`` when the serializer must decide (see the module's doc)."""
    root = _serializer(serializer_class(), root=True)

    def validate(data) -> dict | None:
        try:
            return root(data)
        except _Reject:
            return None

    return validate
