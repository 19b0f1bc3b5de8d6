"""The built-in return reasons: created by migration 0012 and kept after a database flush (post_migrate,
see oms/apps.py), like the roles."""

REASONS = [
    ("changed_mind", "Changed my mind", False, 10),
    ("wrong_size", "Wrong size", False, 20),
    ("damaged", "Arrived damaged", True, 30),
    ("wrong_item", "Wrong item sent", True, 40),
    ("late", "Arrived too late", True, 50),
]
# Not offered to customers (inactive): the reason of a return opened by the carrier's first scan of the
# return label slipped in the parcel, until the parcel is opened and inspected.
NOT_STATED = ("not_stated", "Not stated (return label from the parcel)", False, 90)


def return_reasons_ensure() -> None:
    from .models import ReturnReason

    for code, label, our_fault, position in REASONS:
        ReturnReason.objects.get_or_create(
            code=code, defaults={"label": label, "our_fault": our_fault, "position": position}
        )
    code, label, our_fault, position = NOT_STATED
    ReturnReason.objects.get_or_create(
        code=code, defaults={"label": label, "our_fault": our_fault, "position": position, "active": False}
    )
