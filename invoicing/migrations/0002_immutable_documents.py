"""PostgreSQL refuses what the model refuses: deleting a document or a document line, and changing anything
on a document but its rendering and sending state (status, files, rendered_at, render_error, sent_at).
Other databases (SQLite for `make run` without Postgres) rely on the model's checks."""

from django.db import migrations

FROZEN = [
    "kind", "number", "series", "year", "sequence_number", "legal_entity_id", "order_id", "channel_id",
    "customer_id", "corrects_id", "reason", "issue_date", "delivery_date", "due_date", "language", "currency",
    "is_b2b", "purchase_order", "buyer_name", "buyer_email", "seller", "buyer", "vat_breakdown",
    "total_excl_vat", "total_vat", "total_incl_vat", "created_at",
]

CREATE = """
CREATE OR REPLACE FUNCTION invoicing_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'invoicing: issued documents are never deleted (%)', TG_TABLE_NAME
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_TABLE_NAME = 'invoicing_invoiceline' THEN
    RAISE EXCEPTION 'invoicing: the lines of an issued document are never changed'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF ({old}) IS DISTINCT FROM ({new}) THEN
    RAISE EXCEPTION 'invoicing: issued document % is never changed: issue a credit note', OLD.number
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER invoicing_invoice_immutable BEFORE UPDATE OR DELETE ON invoicing_invoice
  FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_change();
CREATE TRIGGER invoicing_invoiceline_immutable BEFORE UPDATE OR DELETE ON invoicing_invoiceline
  FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_change();
""".format(
    old=", ".join(f"OLD.{c}" for c in FROZEN),
    new=", ".join(f"NEW.{c}" for c in FROZEN),
)

DROP = """
DROP TRIGGER IF EXISTS invoicing_invoice_immutable ON invoicing_invoice;
DROP TRIGGER IF EXISTS invoicing_invoiceline_immutable ON invoicing_invoiceline;
DROP FUNCTION IF EXISTS invoicing_refuse_change();
"""


def _run(schema_editor, sql):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: the driver leaves the % of RAISE alone


def forwards(apps, schema_editor):
    _run(schema_editor, CREATE)


def backwards(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
