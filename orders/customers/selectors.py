"""Reads of the customer pages that need the orders."""

from django.db.models import Count, DecimalField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from customers.models import Customer

from ..customer_data import FINISHED
from ..models import Order, OrderStatus

ORDERS_ON_PAGE = 20


def customers_with_figures(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    """Each customer's number of orders and last order time, as correlated subqueries (computed for the
    page's rows only: the list costs one query whatever the table's size)."""
    orders = Order.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
    return qs.annotate(
        order_count=Coalesce(Subquery(orders.annotate(n=Count("pk")).values("n")[:1]), Value(0)),
        last_order_at=Subquery(orders.annotate(last=Max("created_at")).values("last")[:1]),
    )


def customer_orders_page(*, customer: Customer, limit: int = ORDERS_ON_PAGE) -> list[Order]:
    return list(
        Order.objects.filter(customer=customer)
        .select_related("channel")
        .order_by("-created_at", "-pk")[:limit]
    )


def customer_order_figures(*, customer: Customer) -> dict:
    """Orders, open orders and what the customer spent (orders not cancelled), in one query."""
    return Order.objects.filter(customer=customer).aggregate(
        count=Count("pk"),
        open=Count("pk", filter=~Q(status__in=FINISHED)),
        spent=Coalesce(
            Sum("total_incl_vat", filter=~Q(status=OrderStatus.CANCELLED)),
            Value(0),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
    )
