"""Writes of the customer portal that need the orders: erasing a customer's data checks that none of their
orders is still on its way (their address is needed to deliver it)."""

from customers.accounts import customer_anonymise
from customers.models import Customer

from ..exceptions import AccountHasOpenOrders
from ..models import Order
from .selectors import FINISHED


def account_erase(*, customer: Customer) -> Customer:
    """Anonymise the customer (customers.accounts.customer_anonymise) once all their orders are delivered,
    returned or cancelled; orders and invoices keep their snapshots."""
    open_numbers = list(
        Order.objects.filter(customer=customer).exclude(status__in=FINISHED).values_list("number", flat=True)
    )
    if open_numbers:
        raise AccountHasOpenOrders(
            "Some of your orders are still on their way.", details={"orders": sorted(open_numbers)}
        )
    return customer_anonymise(customer=customer)
