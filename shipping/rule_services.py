"""Shipping rules: which carrier service ships a parcel, and the managers' edits of the rule list.

``rule_choose`` is called when a parcel's service is decided (sourcing proposes one; the rules may
override it). Rules are tried by position; the first active rule whose every condition holds wins."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _

from common.audit import Action, audit_deleted, audit_record, audit_saved, audit_snapshot
from common.exceptions import DomainError

from .models import CarrierService, ShippingRule


class InvalidRule(DomainError):
    """A shipping rule broke a rule of its own. ``details`` maps field names to messages."""

    code = "invalid_shipping_rule"
    status_code = 422


@dataclass(frozen=True)
class RuleInput:
    name: str
    service: CarrierService
    channel_id: int | None = None
    delivery_mode: str = ""
    country: str = ""
    min_weight_g: int | None = None
    max_weight_g: int | None = None
    min_order_value: Decimal | None = None
    max_order_value: Decimal | None = None
    active: bool = True


def rule_matches(
    rule: ShippingRule, *, channel_id, delivery_mode: str, country: str, weight_g: int, order_value
) -> bool:
    if rule.channel_id is not None and rule.channel_id != channel_id:
        return False
    if rule.delivery_mode and rule.delivery_mode != delivery_mode:
        return False
    if rule.country and rule.country != (country or "").upper():
        return False
    if rule.min_weight_g is not None and weight_g < rule.min_weight_g:
        return False
    if rule.max_weight_g is not None and weight_g > rule.max_weight_g:
        return False
    value = Decimal(order_value if order_value is not None else 0)
    if rule.min_order_value is not None and value < rule.min_order_value:
        return False
    return not (rule.max_order_value is not None and value > rule.max_order_value)


def rule_choose(
    *,
    channel_id: int | None,
    delivery_mode: str,
    country: str,
    weight_g: int,
    order_value: Decimal,
    default_service_id: int | None,
) -> tuple[CarrierService | None, ShippingRule | None]:
    """The service a parcel ships with and the rule that chose it: the first active rule (by position)
    that matches and whose service is active with an active carrier and takes the weight; no rule → the
    service ``default_service_id`` (the one sourcing chose) and ``None``. Two queries at most."""
    rules = ShippingRule.objects.filter(
        active=True, service__active=True, service__carrier__active=True
    ).select_related("service__carrier")
    for rule in rules.order_by("position", "pk"):
        if rule.service.max_weight_g and weight_g > rule.service.max_weight_g:
            continue
        if rule_matches(
            rule,
            channel_id=channel_id,
            delivery_mode=delivery_mode,
            country=country,
            weight_g=weight_g,
            order_value=order_value,
        ):
            return rule.service, rule
    if default_service_id is None:
        return None, None
    service = CarrierService.objects.select_related("carrier").filter(pk=default_service_id).first()
    return service, None


def rule_errors(data: RuleInput) -> dict[str, str]:
    """Every problem of a rule, by field (empty: the rule can be saved)."""
    errors = {}
    if not data.name.strip():
        errors["name"] = _("Give the rule a name.")
    if data.delivery_mode and data.service.delivery_mode != data.delivery_mode:
        errors["service"] = _(
            "This service delivers by “%(service_mode)s”, but the rule is for “%(rule_mode)s”: choose a "
            "service of the rule's delivery mode."
        ) % {
            "service_mode": data.service.get_delivery_mode_display(),
            "rule_mode": CarrierService.Mode(data.delivery_mode).label,
        }
    if data.country and (len(data.country) != 2 or not data.country.isalpha()):
        errors["country"] = _("The country is a two-letter code, e.g. FR.")
    if (
        data.min_weight_g is not None
        and data.max_weight_g is not None
        and data.min_weight_g > data.max_weight_g
    ):
        errors["max_weight_g"] = _("The maximum weight must be at least the minimum weight.")
    if data.max_weight_g is not None and data.max_weight_g > data.service.max_weight_g:
        errors["max_weight_g"] = _(
            "The service takes parcels up to %(max)s g: a rule cannot send it heavier ones."
        ) % {"max": data.service.max_weight_g}
    if (
        data.min_order_value is not None
        and data.max_order_value is not None
        and data.min_order_value > data.max_order_value
    ):
        errors["max_order_value"] = _("The maximum order value must be at least the minimum value.")
    for name in ("min_order_value", "max_order_value"):
        value = getattr(data, name)
        if value is not None and value < 0:
            errors[name] = _("An order value cannot be negative.")
    return errors


@transaction.atomic
def rule_save(*, rule: ShippingRule | None = None, data: RuleInput) -> ShippingRule:
    """Create (``rule`` None: placed last) or update a rule; every problem is reported at once and nothing
    is written when there is one."""
    errors = rule_errors(data)
    if errors:
        raise InvalidRule(next(iter(errors.values())), details=errors)
    before = audit_snapshot(rule) if rule is not None else None
    if rule is None:
        last = ShippingRule.objects.select_for_update().aggregate(last=Max("position"))["last"]
        rule = ShippingRule(position=0 if last is None else last + 1)
    rule.name = data.name.strip()
    rule.service = data.service
    rule.channel_id = data.channel_id
    rule.delivery_mode = data.delivery_mode
    rule.country = data.country.upper()
    rule.min_weight_g = data.min_weight_g
    rule.max_weight_g = data.max_weight_g
    rule.min_order_value = data.min_order_value
    rule.max_order_value = data.max_order_value
    rule.active = data.active
    rule.save()
    audit_saved(instance=rule, before=before)
    return rule


def _locked_order() -> list[int]:
    return list(
        ShippingRule.objects.select_for_update().order_by("position", "pk").values_list("pk", flat=True)
    )


def _renumber(order: list[int]) -> None:
    for position, pk in enumerate(order):
        ShippingRule.objects.filter(pk=pk).exclude(position=position).update(position=position)


def _order_audit(before: list[int], after: list[int]) -> None:
    """A new order of the rules, in the audit log: the rule names in order, before and after."""
    if before == after:
        return
    names = dict(ShippingRule.objects.filter(pk__in=before).values_list("pk", "name"))
    audit_record(
        action=Action.SETTINGS_CHANGED,
        changes={"order": {"before": [names[pk] for pk in before], "after": [names[pk] for pk in after]}},
        details={"operation": "changed", "model": ShippingRule._meta.label_lower},
    )


@transaction.atomic
def rule_move(*, rule: ShippingRule, offset: int) -> int:
    """Move a rule up (``offset`` < 0) or down in the list; returns its new position (from 0). The whole
    list is locked and renumbered 0..n-1, so concurrent moves queue up and positions stay distinct."""
    order = _locked_order()
    if rule.pk not in order:
        raise InvalidRule(_("This rule no longer exists."))
    index = order.index(rule.pk)
    target = max(0, min(len(order) - 1, index + offset))
    before = list(order)
    order.insert(target, order.pop(index))
    _renumber(order)
    _order_audit(before, order)
    return target


@transaction.atomic
def rules_reorder(*, ordered_ids: list[int]) -> None:
    """Set the whole order at once (a list of every rule id, first first)."""
    order = _locked_order()
    if sorted(ordered_ids) != sorted(order) or len(set(ordered_ids)) != len(ordered_ids):
        raise InvalidRule(_("The list of rules changed meanwhile: reload the page."))
    _renumber(ordered_ids)
    _order_audit(order, list(ordered_ids))


@transaction.atomic
def rule_delete(*, rule: ShippingRule) -> None:
    _locked_order()
    stored = ShippingRule.objects.filter(pk=rule.pk).first()
    if stored is not None:
        audit_deleted(instance=stored)
    ShippingRule.objects.filter(pk=rule.pk).delete()
    ShippingRule.objects.filter(position__gt=rule.position).update(position=F("position") - 1)
