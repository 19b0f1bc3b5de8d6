"""New model instances built the way Django builds the rows it reads: ``Model(*values)``, every concrete
field given positionally, instead of ``Model(**kwargs)``, whose keyword path looks each of the model's
fields up in the keywords and computes every default in turn (an ``Order`` has ~60 fields: a fifth of a
batch order's CPU went to building its instances).

``build(model, **kwargs)`` gives the instance ``model(**kwargs)`` gives: the same values in the same
attributes, the same defaults (a callable default or a database default computed for each instance, a
constant one shared as Django shares it), a related object given by its field's name assigned through its
descriptor (its id copied, the object cached), a property given by name set after the fields, and
``pre_init`` / ``post_init`` sent when someone listens (otherwise the values go straight into the
instance's ``__dict__``, as ``Model.__init__`` leaves them). ``tests/common/test_instances.py`` compares both
on the batch's models.
"""

from django.db.models import ForeignObjectRel
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

_specs: dict[type, tuple] = {}


def _spec(model) -> tuple:
    spec = _specs.get(model)
    if spec is not None:
        return spec
    fields = list(model._meta.concrete_fields)
    index: dict[str, int] = {}
    related: dict[str, object] = {}
    template = []
    computed = []
    for i, f in enumerate(fields):
        index[f.attname] = i
        if isinstance(f.remote_field, ForeignObjectRel):
            related[f.name] = f  # by its name: an object, assigned through the descriptor
        else:
            index[f.name] = i
        if f.generated:
            raise TypeError(f"{model.__name__}.{f.name} is generated: build it with {model.__name__}(...)")
        constant = (f.has_default() and not callable(f.default) and f.remote_field is None) or (
            not f.has_default() and not f.has_db_default()
        )
        if constant:
            template.append(f.get_default())  # the default itself, as Django's lambda returns it
        else:
            template.append(None)
            computed.append((i, f))
    properties = set(model._meta._property_names)
    # Each field's value can go straight into the instance's __dict__ when its class attribute is Django's
    # plain one (``DeferredAttribute``; a foreign key's id: ``ForeignKeyDeferredAttribute``, which on a new
    # instance, nothing cached yet, only stores the value).
    kinds = (DeferredAttribute, ForeignKeyDeferredAttribute)
    plain = all(type(model.__dict__.get(f.attname)) in kinds for f in fields)
    attnames = tuple(f.attname for f in fields) if plain else None
    spec = _specs[model] = (index, related, template, tuple(computed), properties, attnames)
    return spec


def _listened(model) -> bool:
    return bool(pre_init.receivers or post_init.receivers) and (
        pre_init.has_listeners(model) or post_init.has_listeners(model)
    )


def build(model, /, **kwargs):
    """``model(**kwargs)``, built through Django's positional path."""
    index, related, template, computed, properties, attnames = _spec(model)
    values = template.copy()
    for i, f in computed:
        values[i] = f.get_default()
    after = None
    for name, value in kwargs.items():
        i = index.get(name)
        if i is not None and name not in related:
            values[i] = value
        elif name in related or name in properties:
            if after is None:
                after = []
            after.append((name, value))
        else:
            raise TypeError(f"{model.__name__}() got unexpected keyword arguments: '{name}'")
    if attnames is not None and not _listened(model):
        # What Model.__init__ does with positional values when no one listens to its signals.
        obj = model.__new__(model)
        obj._state = ModelState()
        obj.__dict__.update(zip(attnames, values, strict=True))
    else:
        obj = model(*values)
    if after:
        for name, value in after:
            setattr(obj, name, value)
    return obj
