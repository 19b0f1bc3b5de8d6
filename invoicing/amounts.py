"""Amounts of a document from prices incl. VAT (the prices the customer agreed to), to the cent.

The method (what the tests check for any set of lines):

1. Each line's amount incl. VAT is exact: ``unit price incl. VAT × quantity`` (prices are in cents).
2. Per VAT rate, the gross ``G`` is the sum of its lines incl. VAT. The VAT of the rate is extracted once
   from that sum, ``V = round(G × r / (100 + r))`` to the cent (half up), and its base is ``N = G − V``.
   Extracting per rate rather than per line keeps the rounding error to half a cent per rate, not per line;
   ``N × r / 100`` equals ``V`` within one cent (EN 16931's tolerance for BT-117 against BT-116 × BT-119).
3. The lines' amounts excl. VAT are the exact ``incl × 100 / (100 + r)`` rounded down to the cent, and the
   cents still missing to reach ``N`` go to the lines with the largest remainders (largest remainder method;
   ties to the earlier line). So the lines of a rate add up to its base exactly (EN 16931 BR-S-8), and each
   line's VAT is its incl. amount minus its excl. amount.
4. Totals: excl. VAT = Σ bases, VAT = Σ VATs, incl. VAT = Σ gross = excl. VAT + VAT, to the cent.

A credit note for a whole invoice repeats the invoice's lines, so it repeats its amounts exactly.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LineIn:
    unit_price_incl_vat: Decimal
    quantity: int
    vat_rate: Decimal


@dataclass
class LineAmounts:
    unit_price_incl_vat: Decimal
    quantity: int
    vat_rate: Decimal
    total_incl_vat: Decimal
    total_excl_vat: Decimal = Decimal("0.00")
    total_vat: Decimal = Decimal("0.00")

    @property
    def unit_price_excl_vat(self) -> Decimal:
        """The net unit price (BT-146), to 4 decimals: informative, the line net amount is the reference."""
        return (self.total_excl_vat / self.quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass
class RateAmounts:
    rate: Decimal
    base: Decimal
    vat: Decimal
    gross: Decimal

    def as_json(self) -> dict:
        return {
            "rate": str(self.rate),
            "base": str(self.base),
            "vat": str(self.vat),
            "gross": str(self.gross),
        }


@dataclass
class DocumentAmounts:
    lines: list[LineAmounts]
    rates: list[RateAmounts] = field(default_factory=list)
    total_excl_vat: Decimal = Decimal("0.00")
    total_vat: Decimal = Decimal("0.00")
    total_incl_vat: Decimal = Decimal("0.00")


def vat_of_gross(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT contained in an amount incl. VAT, rounded half up to the cent."""
    return (gross * rate / (HUNDRED + rate)).quantize(CENT, rounding=ROUND_HALF_UP)


def compute(lines: list[LineIn]) -> DocumentAmounts:
    """Amounts of every line, per rate and in total (see the module's docstring for the method)."""
    out = [
        LineAmounts(
            unit_price_incl_vat=Decimal(line.unit_price_incl_vat).quantize(CENT),
            quantity=line.quantity,
            vat_rate=Decimal(line.vat_rate).quantize(Decimal("0.1")),
            total_incl_vat=(Decimal(line.unit_price_incl_vat) * line.quantity).quantize(CENT),
        )
        for line in lines
    ]
    by_rate: OrderedDict[Decimal, list[LineAmounts]] = OrderedDict()
    for line in out:
        if line.quantity <= 0 or line.unit_price_incl_vat < 0 or line.vat_rate < 0:
            raise ValueError("quantities must be positive, prices and rates not negative")
        by_rate.setdefault(line.vat_rate, []).append(line)

    rates = []
    for rate in sorted(by_rate, reverse=True):
        group = by_rate[rate]
        gross = sum((line.total_incl_vat for line in group), Decimal("0.00"))
        vat = vat_of_gross(gross, rate)
        base = gross - vat
        # Lines: exact net, rounded down, then the missing cents to the largest remainders.
        exact = [line.total_incl_vat * HUNDRED / (HUNDRED + rate) for line in group]
        floors = [value.quantize(CENT, rounding=ROUND_DOWN) for value in exact]
        missing = int(((base - sum(floors, Decimal("0.00"))) / CENT).to_integral_value())
        order = sorted(range(len(group)), key=lambda i: (-(exact[i] - floors[i]), i))
        for rank, index in enumerate(order):
            net = floors[index] + (CENT if rank < missing else Decimal("0.00"))
            group[index].total_excl_vat = net
            group[index].total_vat = group[index].total_incl_vat - net
        rates.append(RateAmounts(rate=rate, base=base, vat=vat, gross=gross))

    return DocumentAmounts(
        lines=out,
        rates=rates,
        total_excl_vat=sum((r.base for r in rates), Decimal("0.00")),
        total_vat=sum((r.vat for r in rates), Decimal("0.00")),
        total_incl_vat=sum((r.gross for r in rates), Decimal("0.00")),
    )


@dataclass
class AllowanceAmounts(RateAmounts):
    """A document-level allowance (EN 16931 BG-20) at one VAT rate: ``base`` is its amount excl. VAT (BT-92),
    ``vat`` the VAT it takes off the rate, ``gross`` the two together (what it takes off the total due)."""

    reason: str = ""
    nature: str = ""

    def as_json(self) -> dict:
        return {**super().as_json(), "reason": self.reason, "nature": self.nature}


def apply_allowances(
    amounts: DocumentAmounts, allowances: dict[Decimal, Decimal], *, reason: str, natures: dict | None = None
) -> list[AllowanceAmounts]:
    """Take document-level allowances (``{VAT rate: amount incl. VAT}``) off ``amounts``, in place, and return
    them. The lines keep their amounts (BT-131); each rate's gross is its lines' less its allowance, its VAT
    is extracted from that gross as in ``compute`` and its base is the rest, so the allowance's amount excl.
    VAT is the lines' base less the rate's new base (EN 16931 BR-S-8: a rate's taxable amount is its lines'
    net amounts less its allowances, exactly) and its VAT what the rate's VAT loses. Totals follow the rates.
    An allowance may not exceed its rate's lines (the document would be negative there)."""
    natures = natures or {}
    out = []
    for index, current in enumerate(amounts.rates):
        wanted = Decimal(allowances.get(current.rate, 0)).quantize(CENT)
        if wanted <= 0:
            continue
        if wanted > current.gross:
            raise ValueError("an allowance may not exceed its rate's lines")
        gross = current.gross - wanted
        vat = vat_of_gross(gross, current.rate)
        base = gross - vat
        out.append(
            AllowanceAmounts(
                rate=current.rate,
                base=current.base - base,
                vat=current.vat - vat,
                gross=wanted,
                reason=reason,
                nature=natures.get(current.rate, ""),
            )
        )
        amounts.rates[index] = RateAmounts(rate=current.rate, base=base, vat=vat, gross=gross)
    unknown = {Decimal(rate).quantize(Decimal("0.1")) for rate, value in allowances.items() if value} - {
        r.rate for r in amounts.rates
    }
    if unknown:
        raise ValueError("an allowance at a rate the document has no line at")
    amounts.total_excl_vat = sum((r.base for r in amounts.rates), Decimal("0.00"))
    amounts.total_vat = sum((r.vat for r in amounts.rates), Decimal("0.00"))
    amounts.total_incl_vat = sum((r.gross for r in amounts.rates), Decimal("0.00"))
    return out
