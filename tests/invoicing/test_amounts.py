"""Amounts from prices incl. VAT: for any set of lines, everything adds up to the cent."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.amounts import LineIn, compute, vat_of_gross

RATES = [Decimal("20.0"), Decimal("10.0"), Decimal("5.5"), Decimal("2.1"), Decimal("0.0")]
CENT = Decimal("0.01")

lines_strategy = st.lists(
    st.builds(
        LineIn,
        unit_price_incl_vat=st.integers(min_value=0, max_value=500_000).map(lambda c: Decimal(c) / 100),
        quantity=st.integers(min_value=1, max_value=50),
        vat_rate=st.sampled_from(RATES),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=400, deadline=None)
@given(lines_strategy)
def test_totals_add_up_to_the_cent_and_the_breakdown_matches_the_lines(lines):
    amounts = compute(lines)

    # Every amount is in cents.
    for value in [amounts.total_excl_vat, amounts.total_vat, amounts.total_incl_vat]:
        assert value == value.quantize(CENT)
    # The customer pays exactly the sum of the prices incl. VAT.
    assert amounts.total_incl_vat == sum(
        (line.unit_price_incl_vat * line.quantity for line in lines), Decimal(0)
    )
    assert amounts.total_incl_vat == amounts.total_excl_vat + amounts.total_vat
    # Each line adds up, and is in cents.
    for line in amounts.lines:
        assert line.total_incl_vat == line.total_excl_vat + line.total_vat
        assert line.total_excl_vat == line.total_excl_vat.quantize(CENT)
        assert line.total_excl_vat >= 0 and line.total_vat >= 0
    # The breakdown: one row per rate, equal to its lines, VAT within half a cent of the exact extraction and
    # within a cent of base × rate (EN 16931 BT-117 vs BT-116 × BT-119).
    assert sorted(r.rate for r in amounts.rates) == sorted({line.vat_rate for line in amounts.lines})
    for rate in amounts.rates:
        group = [line for line in amounts.lines if line.vat_rate == rate.rate]
        assert rate.base == sum((line.total_excl_vat for line in group), Decimal(0))
        assert rate.vat == sum((line.total_vat for line in group), Decimal(0))
        assert rate.gross == sum((line.total_incl_vat for line in group), Decimal(0))
        exact_vat = rate.gross * rate.rate / (100 + rate.rate)
        assert abs(rate.vat - exact_vat) <= Decimal("0.005")
        assert abs(rate.base * rate.rate / 100 - rate.vat) <= CENT
    assert amounts.total_excl_vat == sum((r.base for r in amounts.rates), Decimal(0))
    assert amounts.total_vat == sum((r.vat for r in amounts.rates), Decimal(0))


@settings(max_examples=200, deadline=None)
@given(lines_strategy)
def test_line_amounts_excl_vat_stay_within_a_cent_of_the_exact_value(lines):
    amounts = compute(lines)
    for line in amounts.lines:
        exact = line.total_incl_vat * 100 / (100 + line.vat_rate)
        assert abs(line.total_excl_vat - exact) < CENT


def test_known_example():
    # 2 × 19.90 at 20 % and 1 × 14.50 at 5.5 %.
    amounts = compute(
        [LineIn(Decimal("19.90"), 2, Decimal("20.0")), LineIn(Decimal("14.50"), 1, Decimal("5.5"))]
    )
    assert [(r.rate, r.base, r.vat, r.gross) for r in amounts.rates] == [
        (Decimal("20.0"), Decimal("33.17"), Decimal("6.63"), Decimal("39.80")),
        (Decimal("5.5"), Decimal("13.74"), Decimal("0.76"), Decimal("14.50")),
    ]
    assert (amounts.total_excl_vat, amounts.total_vat, amounts.total_incl_vat) == (
        Decimal("46.91"),
        Decimal("7.39"),
        Decimal("54.30"),
    )
    assert amounts.lines[0].unit_price_excl_vat == Decimal("16.5850")


def test_vat_is_extracted_per_rate_not_per_line():
    # Three lines of 0.10 at 20 %: per line the VAT would be 3 × 0.02 = 0.06; per rate it is 0.05.
    amounts = compute([LineIn(Decimal("0.10"), 1, Decimal("20.0"))] * 3)
    assert vat_of_gross(Decimal("0.30"), Decimal("20.0")) == Decimal("0.05")
    assert amounts.total_vat == Decimal("0.05")
    assert sorted(line.total_vat for line in amounts.lines) == [
        Decimal("0.01"),
        Decimal("0.02"),
        Decimal("0.02"),
    ]
