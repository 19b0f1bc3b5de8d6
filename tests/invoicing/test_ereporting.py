"""E-reporting: periods and deadlines of each VAT regime, a month of B2C sales in three VAT rates sent through
the sandbox platform, then a late credit note and its correction."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from invoicing.models import EReport, SandboxMessage
from invoicing.services.ereporting import ereport_send, ereporting_run, period_of
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order
from invoicing.services.payments import payment_record
from tests.invoicing.factories import consume, order_with_lines
from tests.orders.factories import CustomerFactory

D = dt.date
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("regime", "kind", "day", "expected"),
    [
        ("real_monthly", "transactions", D(2026, 10, 4), (D(2026, 10, 1), D(2026, 10, 10), D(2026, 10, 20))),
        (
            "real_monthly",
            "transactions",
            D(2026, 10, 15),
            (D(2026, 10, 11), D(2026, 10, 20), D(2026, 10, 31)),
        ),
        (
            "real_monthly",
            "transactions",
            D(2026, 10, 31),
            (D(2026, 10, 21), D(2026, 10, 31), D(2026, 11, 10)),
        ),
        ("real_monthly", "payments", D(2026, 10, 15), (D(2026, 10, 1), D(2026, 10, 31), D(2026, 11, 10))),
        (
            "real_quarterly",
            "transactions",
            D(2026, 10, 15),
            (D(2026, 10, 1), D(2026, 10, 31), D(2026, 11, 10)),
        ),
        ("simplified", "transactions", D(2027, 1, 15), (D(2027, 1, 1), D(2027, 1, 31), D(2027, 2, 28))),
        ("simplified", "payments", D(2026, 10, 15), (D(2026, 10, 1), D(2026, 10, 31), D(2026, 11, 30))),
        ("franchise", "transactions", D(2026, 12, 3), (D(2026, 11, 1), D(2026, 12, 31), D(2027, 1, 30))),
        ("franchise", "payments", D(2026, 9, 3), (D(2026, 9, 1), D(2026, 10, 31), D(2026, 11, 30))),
    ],
)
def test_periods_and_deadlines_of_each_regime(regime, kind, day, expected):
    assert period_of(regime, kind, day) == expected


def _sale(lines, email, when, capture, *, services=False):
    with time_machine.travel(dt.datetime(*when, 11, tzinfo=PARIS), tick=False):
        customer = CustomerFactory(email=email)
        order = order_with_lines(customer=customer, lines=lines)
        if services:
            from inventory.models import Product

            Product.objects.filter(sku__in=[line[0] for line in lines]).update(nature="services")
        consume(order)
        with capture(execute=True):
            return invoice_issue_for_order(order=order, scope="shipped")


@pytest.mark.django_db
def test_a_month_of_b2c_sales_then_a_late_credit_note_and_its_correction(
    entity, settings, django_capture_on_commit_callbacks
):
    settings.EREPORTING_START = D(2026, 10, 1)
    entity.platform = "sandbox"
    entity.vat_regime = "real_quarterly"  # monthly e-reporting, due the 10th of the next month
    entity.save()
    capture = django_capture_on_commit_callbacks
    # given B2C sales in October at 20 %, 5.5 % and 10 % (and a service paid in October)
    first = _sale(
        [("TSHIRT-M", "19.90", "20.0", 2), ("CAFE-1KG", "14.50", "5.5", 1)],
        "a@example.fr",
        (2026, 10, 5),
        capture,
    )
    _sale([("LIVRE", "22.00", "10.0", 1)], "b@example.fr", (2026, 10, 5), capture)
    service = _sale([("COURS", "50.00", "20.0", 1)], "c@example.fr", (2026, 10, 20), capture, services=True)
    with time_machine.travel(dt.datetime(2026, 10, 21, 9, tzinfo=PARIS), tick=False):
        payment_record(document=service, paid_on=D(2026, 10, 21), amount=Decimal("50.00"), method="card")

    # when beat runs on 3 November: the drafts of October are generated (not due yet)
    with time_machine.travel(dt.datetime(2026, 11, 3, 4, tzinfo=PARIS), tick=False):
        ereporting_run()
    report = EReport.objects.get(kind="transactions", version=1)
    assert (report.period_start, report.period_end, report.due_on) == (
        D(2026, 10, 1),
        D(2026, 10, 31),
        D(2026, 11, 10),
    )
    assert report.status == "draft"
    rows = [(x.day, x.treatment, x.category, x.vat_rate, x.base, x.vat, x.count) for x in report.lines.all()]
    assert rows == [
        (D(2026, 10, 5), "B2C", "TLB1", Decimal("20.0"), Decimal("33.17"), Decimal("6.63"), 1),
        (D(2026, 10, 5), "B2C", "TLB1", Decimal("10.0"), Decimal("20.00"), Decimal("2.00"), 1),
        (D(2026, 10, 5), "B2C", "TLB1", Decimal("5.5"), Decimal("13.74"), Decimal("0.76"), 1),
        (D(2026, 10, 20), "B2C", "TPS1", Decimal("20.0"), Decimal("41.67"), Decimal("8.33"), 1),
    ]
    assert (report.total_base, report.total_vat) == (Decimal("108.58"), Decimal("17.72"))
    payments = EReport.objects.get(kind="payments")
    assert [(x.day, x.vat_rate, x.amount) for x in payments.lines.all()] == [
        (D(2026, 10, 21), Decimal("20.0"), Decimal("50.00"))
    ]

    # reviewed and sent
    with capture(execute=True):
        ereport_send(report=report)
    report.refresh_from_db()
    assert report.status == "sent"
    assert SandboxMessage.objects.filter(kind="ereport").count() == 1

    # a late credit note (issued in November) for the October T-shirts changes the closed period
    with time_machine.travel(dt.datetime(2026, 11, 6, 10, tzinfo=PARIS), tick=False):
        line = first.lines.get(sku="TSHIRT-M")
        with capture(execute=True):
            note = credit_note_issue(
                invoice=first, quantities={line.pk: 1}, include_shipping=False, reason="Retour"
            )
    assert note.delivery_date == D(2026, 10, 5)
    with time_machine.travel(dt.datetime(2026, 11, 7, 4, tzinfo=PARIS), tick=False):
        ereporting_run()
    correction = EReport.objects.get(kind="transactions", version=2)
    assert correction.corrects == report and correction.status == "draft"
    assert note.number in correction.reason
    assert correction.lines.get(day=D(2026, 10, 5), vat_rate=Decimal("20.0")).base == Decimal(
        "16.59"
    )  # 33.17 - 16.58
    assert correction.total_base == Decimal("92.00")

    # the correction is sent on its deadline by beat, and replaces the first report
    with time_machine.travel(dt.datetime(2026, 11, 10, 4, tzinfo=PARIS), tick=False), capture(execute=True):
        ereporting_run()
    correction.refresh_from_db()
    report.refresh_from_db()
    assert correction.status == "sent" and report.status == "replaced"
    assert EReport.objects.filter(kind="transactions").count() == 2  # no third version: nothing changed since
