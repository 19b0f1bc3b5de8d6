"""The intake's input fast path (``common.fast_input``) against DRF's serializer: for every body it takes,
the same validated data (values, types, key order); for every body DRF refuses, it takes nothing (so the
serializer words the error). Generated bodies (hypothesis), mostly valid, with every field's edge values."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.api import OrderCreateInput, order_input_fast
from orders.api_batch import BatchInput, _orders_fast

pytestmark = pytest.mark.filterwarnings("ignore")


def same(a, b, path="") -> None:
    """Equal, with the same types and key order all the way down (a Decimal's exponent included)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, Decimal):
        assert str(a) == str(b), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def drf(body):
    serializer = OrderCreateInput(data=body)
    return serializer.validated_data if serializer.is_valid() else None


def check(body) -> bool:
    """The fast path agrees with DRF on ``body``; True when the fast path took it."""
    fast = order_input_fast(body)
    reference = drf(body)
    if fast is None:
        return False
    assert reference is not None, f"the fast path took a body DRF refuses: {body!r}"
    same(fast, reference)
    return True


ABSENT = object()


def maybe(strategy, absent_weight=1):
    return st.one_of(*([st.just(ABSENT)] * absent_weight), strategy)


def obj(**members):
    """A dict strategy; members drawn as ABSENT are left out."""
    return st.fixed_dictionaries(members).map(lambda d: {k: v for k, v in d.items() if v is not ABSENT})


text_edges = st.sampled_from(
    ["", " ", "  x  ", "Ana", "Ana\n", "\tRoux ", "Émilie", "a" * 100, "a" * 101, "x\x00y", "💥", "12", " 0 "]
)
texts = st.one_of(text_edges, st.text(max_size=12), st.integers(-5, 5), st.none(), st.booleans(), st.floats())
emails = st.one_of(
    st.sampled_from(
        [
            "a@example.fr",
            " A.B@Example.FR ",
            "a@b",
            "not-an-email",
            "",
            "x@" + "e" * 250 + ".fr",
            "é@exemple.fr",
        ]
    ),
    st.emails().map(str),
    texts,
)
decimals = st.one_of(
    st.sampled_from(
        [
            "19.90",
            "19.9",
            "19",
            "0",
            "-0",
            "-1",
            "0.005",
            "99999999.99",
            "100000000",
            " 5.5 ",
            "5.",
            ".5",
            "1e2",
            "+3",
            "NaN",
            "Infinity",
            "19,90",
            "007.10",
            "",
        ]
    ),
    st.decimals(min_value=-10, max_value=10**9, places=2).map(str),
    st.integers(-3, 10**9),
    st.floats(min_value=-10, max_value=1e9),
    st.booleans(),
    st.none(),
)
coordinates = st.one_of(
    st.sampled_from(["45.764043", "-4.8357", "90", "90.000001", "-180", "181", 45.76, 4, "1.1234567"]),
    st.decimals(min_value=-200, max_value=200, places=6).map(str),
    st.floats(min_value=-200, max_value=200),
)
quantities = st.one_of(
    st.integers(-2, 10_002), st.sampled_from(["2", "2.0", 2.0, True, None, "", " 3 "]), st.integers(1, 5)
)
booleans = st.one_of(st.booleans(), st.sampled_from(["true", "false", 1, 0, "on", None, "yes", "maybe"]))
postcodes = st.one_of(
    st.sampled_from(
        ["69003", "75 004", "20000", "97100", "98000", "1000", "SW1A1AA", "1012ab", "", "ABC", "9"]
    ),
    texts,
)
countries = st.one_of(st.sampled_from(["FR", "fr", " be ", "GB", "NL", "XX", "", "FRA", 12]), st.none())

customers = obj(
    email=maybe(emails, 0),
    first_name=maybe(texts),
    last_name=maybe(texts),
    phone=maybe(st.sampled_from(["+33612345678", "", "0" * 33])),
    company=maybe(texts),
    siren=maybe(st.sampled_from(["123456789", " 123456789 ", "12345678", "", "١٢٣٤٥٦٧٨٩", "abcdefghi"])),
    vat_number=maybe(texts),
    language=maybe(st.sampled_from(["fr", "en", "de", "", " fr", None, 1])),
    extra=maybe(texts, 3),
)
addresses = obj(
    name=maybe(texts),
    company=maybe(texts),
    line1=maybe(texts, 0) | maybe(st.just("3 rue X"), 0),
    line2=maybe(texts),
    postcode=maybe(postcodes, 0),
    city=maybe(st.sampled_from(["Lyon", " Paris ", "", "x" * 121]), 0),
    country=maybe(countries),
    phone=maybe(texts),
    latitude=maybe(coordinates, 3),
    longitude=maybe(coordinates, 3),
)
relays = obj(
    carrier=maybe(st.sampled_from(["mondial_relay", "colissimo", "", "x" * 33]), 0),
    id=maybe(st.sampled_from(["FR-012345", "", " 1 "]), 0),
    name=maybe(texts),
    line1=maybe(texts),
    postcode=maybe(postcodes),
    city=maybe(texts),
    country=maybe(countries),
    latitude=maybe(coordinates, 3),
)
deliveries = obj(
    mode=maybe(st.sampled_from(["home", "relay", "store", "HOME", "", None]), 0),
    address=maybe(addresses | st.sampled_from([None, "x", []])),
    relay_point=maybe(relays),
    store=maybe(st.sampled_from(["paris", " lyon ", "", "x" * 33, None]), 2),
)
lines = obj(
    sku=maybe(st.sampled_from(["TSHIRT-M", " MUG ", "", "x" * 65, 42]), 0),
    quantity=maybe(quantities, 0),
    unit_price=maybe(decimals),
)
payments = obj(
    status=maybe(st.sampled_from(["paid", "pending", "authorised", "unpaid", "refunded"]), 0),
    amount=maybe(decimals),
    provider=maybe(st.sampled_from(["stripe", "", " mollie "])),
    reference=maybe(texts),
    paid_at=maybe(st.sampled_from(["2026-12-04T10:00:00Z", "yesterday"]), 3),
)
bodies = obj(
    external_id=maybe(st.one_of(st.sampled_from(["SHOP-1", " SHOP-2 ", "", "x" * 101]), texts), 0),
    customer=maybe(customers, 0),
    delivery=maybe(deliveries, 0),
    lines=maybe(st.lists(lines, min_size=0, max_size=4) | st.just("x"), 0),
    allow_preorder=maybe(booleans),
    purchase_order=maybe(texts),
    note=maybe(texts),
    shipping_fee=maybe(decimals),
    payment=maybe(payments, 2),
    unknown=maybe(texts, 3),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies)
def test_fast_path_takes_only_what_drf_takes_and_gives_the_same(body):
    check(body)


# Well-formed bodies, as channels send them: the fast path must take every one (else it is no fast path).
good_text = st.from_regex(r"[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9 '\-]{0,30}", fullmatch=True)
good_bodies = obj(
    external_id=maybe(st.from_regex(r"[A-Z]{2,6}-[0-9]{1,8}", fullmatch=True), 0),
    customer=obj(
        email=maybe(st.sampled_from(["a@example.fr", "Jean.Dupont@Exemple.com", "x+y@shop.co.uk"]), 0),
        first_name=maybe(good_text),
        last_name=maybe(good_text),
        phone=maybe(st.sampled_from(["+33612345678", ""])),
        siren=maybe(st.sampled_from(["123456789", ""])),
        language=maybe(st.sampled_from(["fr", "en"])),
    ),
    delivery=st.one_of(
        obj(
            mode=st.just("home"),
            address=obj(
                name=maybe(good_text),
                line1=maybe(good_text, 0),
                line2=maybe(st.sampled_from(["", "Bât. B"])),
                postcode=maybe(st.sampled_from(["69003", "75 004", "20090"]), 0),
                city=maybe(good_text, 0),
                country=maybe(st.sampled_from(["FR", "fr"])),
                latitude=maybe(st.sampled_from(["45.764043", "-4.5", 45.76, 4])),
                longitude=maybe(st.sampled_from(["4.835659", "-0.57918"])),
            ),
        ),
        obj(
            mode=st.just("relay"),
            relay_point=obj(
                carrier=maybe(st.sampled_from(["mondial_relay", "colissimo"]), 0),
                id=maybe(st.sampled_from(["FR-012345", "4567"]), 0),
                name=maybe(good_text),
                line1=maybe(good_text),
                postcode=maybe(st.sampled_from(["69002", ""])),
                city=maybe(good_text),
            ),
        ),
        obj(mode=st.just("store"), store=st.sampled_from(["paris", "lyon"])),
    ),
    lines=st.lists(
        obj(
            sku=maybe(st.from_regex(r"[A-Z]{3,8}-[0-9]{1,4}", fullmatch=True), 0),
            quantity=maybe(st.integers(1, 10_000), 0),
            unit_price=maybe(
                st.one_of(st.decimals(min_value=0, max_value=99_999, places=2).map(str), st.integers(0, 999))
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    allow_preorder=maybe(st.booleans()),
    purchase_order=maybe(st.sampled_from(["PO-1", ""])),
    note=maybe(good_text),
    shipping_fee=maybe(st.sampled_from(["4.90", "0", 5, "0.5"])),
    payment=maybe(
        obj(
            status=maybe(st.sampled_from(["paid", "pending", "authorised", "unpaid"]), 0),
            amount=maybe(st.sampled_from(["10.00", "3.5", 12])),
            provider=maybe(st.sampled_from(["stripe", "mollie"])),
            reference=maybe(st.sampled_from(["pi_123", ""])),
        )
    ),
)


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
@given(good_bodies)
def test_fast_path_takes_every_well_formed_order(body):
    assert drf(body) is not None, body
    assert check(body), f"the fast path refused a well-formed order: {body!r}"


def test_bench_body_takes_the_fast_path_with_drf_values():
    body = {
        "external_id": "bench-1",
        "customer": {
            "email": "client1@example.fr",
            "first_name": "Ana",
            "last_name": "Roux",
            "phone": "+33612345678",
        },
        "delivery": {
            "mode": "home",
            "address": {
                "line1": "3 rue de la République",
                "postcode": "69003",
                "city": "Lyon",
                "country": "FR",
            },
        },
        "lines": [{"sku": "BENCH-0001", "quantity": 2, "unit_price": "19.9"}],
        "allow_preorder": True,
    }
    assert check(body)
    fast = order_input_fast(body)
    assert (
        fast["lines"][0]["unit_price"] == Decimal("19.90") and str(fast["lines"][0]["unit_price"]) == "19.90"
    )
    assert fast["customer"]["language"] == "fr" and fast["note"] == ""
    assert "payment" not in fast and "shipping_fee" not in fast


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"orders": []},
        {"orders": None},
        {"orders": "x"},
        {"orders": [1]},
        {"orders": [{"a": 1}, []]},
        {"orders": [{}] * 501},
        {"orders": [{"external_id": "A"}, {}], "other": 1},
    ],
)
def test_batch_envelope_fast_path_agrees_with_drf(body):
    fast = _orders_fast(body)
    serializer = BatchInput(data=body)
    valid = serializer.is_valid()
    if fast is not None:
        assert valid
        same(fast, serializer.validated_data["orders"])
    else:
        assert not valid


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


edge_values = st.one_of(texts, emails, decimals, coordinates, quantities, booleans, postcodes, countries)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(good_bodies, st.data())
def test_one_field_off_a_well_formed_order(body, data):
    """A well-formed order with one value replaced by an edge value (or removed): both agree."""
    path = data.draw(st.sampled_from(list(_paths(body))[1:]))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(edge_values)
    check(body)
