"""Properties of the stock services, for any sequence of operations (hypothesis, rule-based): a valid
operation does exactly what a simple model says; an invalid one raises a DomainError and changes nothing;
and after every step on_hand >= 0, reserved >= 0, reserved <= on_hand, incoming reserved <= its quantity,
and on_hand equals the sum of the ledger's movements for every level."""

from datetime import date

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from common.exceptions import DomainError
from inventory import services
from inventory.models import IncomingStock, StockLevel, StockMovement
from tests.api.factories import ProductFactory
from tests.inventory.factories import LocationFactory

# Mostly plausible whole numbers, sometimes what a careless caller sends.
quantities = st.one_of(
    st.integers(min_value=-3, max_value=8), st.sampled_from([0, True, False, 1.5, "2", None])
)
deltas = st.one_of(st.integers(min_value=-8, max_value=8), st.sampled_from([True, 2.0, "-1", None]))
reason_codes = st.sampled_from(["count", "damaged", "lost", "found", "other", "bogus"])
EXPECTED_ON = date(2099, 1, 15)


def whole(value) -> bool:
    return type(value) is int  # not bool, not float, not str


def positive(value) -> bool:
    return whole(value) and value > 0


class StockMachine(RuleBasedStateMachine):
    """Two products at two locations. ``levels`` and ``incoming`` are the model the database must match."""

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.products = [ProductFactory(sku="P0", ean=""), ProductFactory(sku="P1", ean="")]
        self.locations = [LocationFactory(code="l0"), LocationFactory(code="l1")]
        self.levels: dict[tuple[int, int], list[int]] = {}  # (product pk, location pk) -> [on_hand, reserved]
        self.incoming: dict[int, dict] = {}  # pk -> {product, location, quantity, reserved, status}

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ---------------------------------------------------------------------------------------

    def _level(self, p: int, loc: int) -> list[int]:
        return self.levels.setdefault((self.products[p].pk, self.locations[loc].pk), [0, 0])

    def _db(self):
        """(levels, incoming, ledger): what the database holds, in three queries."""
        levels = {
            (pid, lid): [on_hand, reserved]
            for pid, lid, on_hand, reserved in StockLevel.objects.values_list(
                "product_id", "location_id", "on_hand", "reserved"
            )
        }
        incoming = {
            row["pk"]: {k: v for k, v in row.items() if k != "pk"}
            for row in IncomingStock.objects.values(
                "pk", "product", "location", "quantity", "reserved", "status"
            )
        }
        ledger = {
            (row["product_id"], row["location_id"]): row["total"]
            for row in StockMovement.objects.values("product_id", "location_id").annotate(total=Sum("delta"))
        }
        return levels, incoming, ledger

    def _model(self):
        return {k: v for k, v in self.levels.items() if v != [0, 0]}, self.incoming

    def _attempt(self, valid: bool, operation):
        """Run the operation: if the model says it is valid it must succeed; otherwise it must raise a
        DomainError and leave everything as it was."""
        if valid:
            return operation()
        before = self._db()
        with pytest.raises(DomainError):
            operation()
        assert self._db() == before
        return None

    def _pick_incoming(self, index: int) -> int:
        return sorted(self.incoming)[index % len(self.incoming)]

    # --- stock rules -----------------------------------------------------------------------------------

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), q=quantities)
    def receive(self, p, loc, q):
        level = self._level(p, loc)
        product, location = self.products[p], self.locations[loc]
        if self._attempt(
            positive(q), lambda: services.stock_receive(product=product, location=location, quantity=q)
        ):
            # Units this location expects of the product are received against those replenishments first
            # (all expected on the same day here: oldest first), their reserved units becoming reserved stock.
            left = q
            for pk in sorted(self.incoming):
                row = self.incoming[pk]
                if (
                    left
                    and row["status"] == "open"
                    and (row["product"], row["location"])
                    == (
                        product.pk,
                        location.pk,
                    )
                ):
                    take = min(left, row["quantity"])
                    converted = min(row["reserved"], take)
                    level[1] += converted
                    row["quantity"] -= take
                    row["reserved"] -= converted
                    row["status"] = "open" if row["quantity"] else "received"
                    left -= take
            level[0] += q

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), q=quantities)
    def reserve(self, p, loc, q):
        level = self._level(p, loc)
        valid = positive(q) and level[0] - level[1] >= q
        pid, lid = self.products[p].pk, self.locations[loc].pk
        self._attempt(valid, lambda: services.stock_reserve(product_id=pid, location_id=lid, quantity=q))
        if valid:
            level[1] += q

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), q=quantities)
    def release(self, p, loc, q):
        level = self._level(p, loc)
        valid = positive(q) and level[1] >= q
        pid, lid = self.products[p].pk, self.locations[loc].pk
        self._attempt(valid, lambda: services.stock_release(product_id=pid, location_id=lid, quantity=q))
        if valid:
            level[1] -= q

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), q=quantities)
    def consume(self, p, loc, q):
        level = self._level(p, loc)
        valid = positive(q) and level[1] >= q
        pid, lid = self.products[p].pk, self.locations[loc].pk
        self._attempt(valid, lambda: services.stock_consume(product_id=pid, location_id=lid, quantity=q))
        if valid:
            level[0] -= q
            level[1] -= q

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), delta=deltas, code=reason_codes)
    def adjust(self, p, loc, delta, code):
        level = self._level(p, loc)
        valid = whole(delta) and delta != 0 and code != "bogus" and level[0] + delta >= level[1]
        product, location = self.products[p], self.locations[loc]
        self._attempt(
            valid,
            lambda: services.stock_adjust(product=product, location=location, delta=delta, reason_code=code),
        )
        if valid:
            level[0] += delta

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), counted=deltas)
    def count(self, p, loc, counted):
        level = self._level(p, loc)
        valid = whole(counted) and counted >= 0 and (counted == level[0] or counted >= level[1])
        product, location = self.products[p], self.locations[loc]
        self._attempt(
            valid, lambda: services.stock_count(product=product, location=location, counted=counted)
        )
        if valid:
            level[0] = counted

    @rule(p=st.integers(0, 1), src=st.integers(0, 1), dst=st.integers(0, 1), q=quantities)
    def transfer(self, p, src, dst, q):
        level = self._level(p, src)
        valid = positive(q) and src != dst and level[0] - level[1] >= q
        product = self.products[p]
        incoming = self._attempt(
            valid,
            lambda: services.stock_transfer(
                product=product,
                from_location=self.locations[src],
                to_location=self.locations[dst],
                quantity=q,
                expected_on=EXPECTED_ON,
            ),
        )
        if valid:
            level[0] -= q
            self.incoming[incoming.pk] = {
                "product": product.pk,
                "location": self.locations[dst].pk,
                "quantity": q,
                "reserved": 0,
                "status": "open",
            }

    # --- incoming rules --------------------------------------------------------------------------------

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), q=quantities)
    def incoming_create(self, p, loc, q):
        product, location = self.products[p], self.locations[loc]
        incoming = self._attempt(
            positive(q),
            lambda: services.incoming_create(
                product=product, location=location, quantity=q, expected_on=EXPECTED_ON
            ),
        )
        if incoming is not None:
            self.incoming[incoming.pk] = {
                "product": product.pk,
                "location": location.pk,
                "quantity": q,
                "reserved": 0,
                "status": "open",
            }

    @precondition(lambda self: self.incoming)
    @rule(index=st.integers(0, 50), q=quantities)
    def incoming_reserve(self, index, q):
        pk = self._pick_incoming(index)
        row = self.incoming[pk]
        valid = positive(q) and row["status"] == "open" and row["quantity"] - row["reserved"] >= q
        self._attempt(valid, lambda: services.incoming_reserve(incoming_id=pk, quantity=q))
        if valid:
            row["reserved"] += q

    @precondition(lambda self: self.incoming)
    @rule(index=st.integers(0, 50), q=quantities)
    def incoming_release(self, index, q):
        pk = self._pick_incoming(index)
        row = self.incoming[pk]
        valid = positive(q) and row["reserved"] >= q
        self._attempt(valid, lambda: services.incoming_release(incoming_id=pk, quantity=q))
        if valid:
            row["reserved"] -= q

    @precondition(lambda self: self.incoming)
    @rule(index=st.integers(0, 50), q=st.one_of(st.none(), quantities))
    def incoming_receive(self, index, q):
        pk = self._pick_incoming(index)
        row = self.incoming[pk]
        received = row["quantity"] if q is None else q
        valid = row["status"] == "open" and positive(received) and received <= row["quantity"]
        incoming = IncomingStock.objects.get(pk=pk)
        self._attempt(valid, lambda: services.incoming_receive(incoming=incoming, quantity=q))
        if valid:
            converted = min(row["reserved"], received)
            key = (row["product"], row["location"])
            level = self.levels.setdefault(key, [0, 0])
            level[0] += received
            level[1] += converted
            row["quantity"] -= received
            row["reserved"] -= converted
            row["status"] = "open" if row["quantity"] else "received"

    @precondition(lambda self: self.incoming)
    @rule(index=st.integers(0, 50))
    def incoming_cancel(self, index):
        pk = self._pick_incoming(index)
        row = self.incoming[pk]
        valid = row["status"] == "open" and row["reserved"] == 0
        incoming = IncomingStock.objects.get(pk=pk)
        self._attempt(valid, lambda: services.incoming_cancel(incoming=incoming))
        if valid:
            row["status"] = "cancelled"

    # --- invariants --------------------------------------------------------------------------------------

    @invariant()
    def database_matches_the_model_and_the_ledger(self):
        levels, incoming, ledger = self._db()
        for (pid, lid), (on_hand, reserved) in levels.items():
            assert on_hand >= 0
            assert reserved >= 0
            assert reserved <= on_hand
            assert on_hand == ledger.get((pid, lid), 0)
        assert set(ledger) <= set(levels)
        for row in incoming.values():
            assert 0 <= row["reserved"] <= row["quantity"]
        assert ({k: v for k, v in levels.items() if v != [0, 0]}, incoming) == self._model()


def test_stock_operations_keep_the_invariants(db):
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
