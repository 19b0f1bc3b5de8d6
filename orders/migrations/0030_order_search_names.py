"""The order list's name search on the order's own row (orders.selectors._search).

A common name or a first name's prefix matches tens of thousands of customers ("Martin", "nathal": 13,000 to
35,000 among 2 M); testing each order's customer through a join made the list's page and its capped count
read the matching customers or walk the orders with a lookup each: 0.3-1.2 s at 6 M orders
(bench/README.md). The order now carries its customer's names in lower case, indexed for prefixes
(``text_pattern_ops``), so the planner chooses on one table's statistics between walking the newest orders
with the test on the row (a common name) and the orders of a prefix range (a rare one).

PostgreSQL keeps the copy with triggers, so no code path can forget it: before an order is inserted
without them (intake writes those it has in hand) or its customer changes, the names are read from the
customer; after a customer's first or last name changes, their orders are updated (the customer's row
before their orders': see ARCHITECTURE.md, "One lock order"). The existing orders are filled range by
range, each range committed on its own, and the indexes built concurrently, so the orders stay writable
throughout (a 10 M-order table takes minutes). On SQLite nothing is done: the columns stay empty and the
search joins the customers as before (a demo database is small).
"""

from django.db import migrations, models

STATEMENTS = [
    """CREATE OR REPLACE FUNCTION orders_order_search_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT lower(c.first_name), lower(c.last_name)
      INTO NEW.search_first_name, NEW.search_last_name
      FROM customers_customer c WHERE c.id = NEW.customer_id;
    RETURN NEW;
END $$""",
    """CREATE OR REPLACE FUNCTION customers_customer_search_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders_order
       SET search_first_name = lower(NEW.first_name), search_last_name = lower(NEW.last_name)
     WHERE customer_id = NEW.id;
    RETURN NULL;
END $$""",
    # Intake (single and batch) writes the names it has in hand: the function runs only for a row that
    # comes without them (a PL/pgSQL call and a read per row: ~0.07 ms, a sixth of a batch order's
    # PostgreSQL).
    """CREATE TRIGGER orders_order_search_names
    BEFORE INSERT ON orders_order
    FOR EACH ROW WHEN (NEW.search_first_name = '' AND NEW.search_last_name = '')
    EXECUTE FUNCTION orders_order_search_names()""",
    """CREATE TRIGGER orders_order_search_names_customer
    BEFORE UPDATE OF customer_id ON orders_order
    FOR EACH ROW WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION orders_order_search_names()""",
    """CREATE TRIGGER customers_customer_search_names
    AFTER UPDATE OF first_name, last_name ON customers_customer
    FOR EACH ROW WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name
                       OR OLD.last_name IS DISTINCT FROM NEW.last_name)
    EXECUTE FUNCTION customers_customer_search_names()""",
]

# The existing orders, by ranges of ids, each range committed on its own: one UPDATE of 10 M rows holds
# every order's row lock for half an hour (measured on the benchmark's 10 M orders), which would stop every
# status change meanwhile; a range of 20,000 holds them for about a tenth of a second.
BACKFILL = """UPDATE orders_order o
   SET search_first_name = lower(c.first_name), search_last_name = lower(c.last_name)
  FROM customers_customer c
 WHERE c.id = o.customer_id AND o.id >= %s AND o.id < %s
   AND o.search_first_name = '' AND o.search_last_name = ''
   AND (c.first_name <> '' OR c.last_name <> '')"""
CHUNK = 20_000

# Built without blocking the orders' writes (the migration is not atomic, so each runs on its own).
INDEXES = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_search_first_name_idx "
    "ON orders_order (search_first_name text_pattern_ops)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_search_last_name_idx "
    "ON orders_order (search_last_name text_pattern_ops)",
]

DROP = [
    "DROP INDEX IF EXISTS order_search_first_name_idx",
    "DROP INDEX IF EXISTS order_search_last_name_idx",
    "DROP TRIGGER IF EXISTS orders_order_search_names ON orders_order",
    "DROP TRIGGER IF EXISTS orders_order_search_names_customer ON orders_order",
    "DROP TRIGGER IF EXISTS customers_customer_search_names ON customers_customer",
    "DROP FUNCTION IF EXISTS orders_order_search_names()",
    "DROP FUNCTION IF EXISTS customers_customer_search_names()",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in STATEMENTS:  # the triggers first: an order written from now on has its names
        schema_editor.execute(statement, params=None)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM orders_order")
        low, high = cursor.fetchone()
        for start in range(low, high + 1, CHUNK):
            cursor.execute(BACKFILL, [start, start + CHUNK])
    for statement in INDEXES:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    atomic = False  # the backfill commits range by range, the indexes are built concurrently
    dependencies = [
        ("orders", "0029_goodwill_refunds"),
        ("customers", "0008_customer_search_covering_indexes"),
    ]
    operations = [
        migrations.AddField(
            model_name="order",
            name="search_first_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=100),
        ),
        migrations.AddField(
            model_name="order",
            name="search_last_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=100),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
