"""The audit log (common.AuditEntry). On PostgreSQL a trigger refuses any UPDATE or DELETE of an entry, as the
model does: the log is append-only. (TRUNCATE, used by the test suite's flush, is not a row change.)"""

import django.utils.timezone
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION common_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'common: the audit log is append-only (% refused)', TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER common_auditentry_append_only BEFORE UPDATE OR DELETE ON common_auditentry
  FOR EACH ROW EXECUTE FUNCTION common_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS common_auditentry_append_only ON common_auditentry;
DROP FUNCTION IF EXISTS common_audit_append_only();
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

    dependencies = [
        ('common', '0002_leases_and_rate_limit_counters'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='at')),
                ('action', models.CharField(choices=[('staff.sign_in', 'Staff sign-in'), ('staff.sign_in_failed', 'Staff sign-in failed'), ('staff.sign_out', 'Staff sign-out'), ('customer.sign_in', 'Customer sign-in'), ('customer.sign_in_failed', 'Customer sign-in failed'), ('customer.sign_out', 'Customer sign-out'), ('api_key.created', 'API key created'), ('api_key.revoked', 'API key revoked'), ('secret.changed', 'Secret changed'), ('role.changed', 'Roles of a user changed'), ('role.permissions_changed', 'Permissions of a role changed'), ('scope.changed', 'Location scope changed'), ('staff.account_changed', 'Staff account changed'), ('settings.changed', 'Settings changed')], max_length=40, verbose_name='action')),
                ('actor_kind', models.CharField(choices=[('staff', 'Staff'), ('customer', 'Customer'), ('system', 'System')], max_length=16, verbose_name='actor kind')),
                ('actor_id', models.BigIntegerField(blank=True, null=True, verbose_name='actor id')),
                ('actor_label', models.CharField(blank=True, help_text='User name or email at the time (or the one typed).', max_length=254, verbose_name='actor')),
                ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                ('target_type', models.CharField(blank=True, max_length=100, verbose_name='object type')),
                ('target_id', models.CharField(blank=True, max_length=64, verbose_name='object id')),
                ('target_label', models.CharField(blank=True, max_length=255, verbose_name='object')),
                ('changes', models.JSONField(blank=True, default=dict, verbose_name='changes')),
                ('details', models.JSONField(blank=True, default=dict, verbose_name='details')),
            ],
            options={
                'verbose_name': 'audit log entry',
                'verbose_name_plural': 'audit log',
                'ordering': ['-id'],
                'default_permissions': ('view',),
                'indexes': [models.Index(fields=['action', '-id'], name='audit_action_idx'), models.Index(fields=['actor_label', '-id'], name='audit_actor_idx')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
