"""Moving models from one of our apps to another without touching their tables or data (ARCHITECTURE.md
"Apps and why"). The model keeps its table (``Meta.db_table`` = the old name), the two apps' migrations move
it in Django's state only (``SeparateDatabaseAndState``), and ``move_content_types`` carries its content
type to the new app label, so the permissions (and the roles' groups holding them), the admin's history and
every generic relation keep pointing at it. The audit log, append-only, keeps the old label in its rows;
``common.audit_display`` finds the model by its table."""

from django.db import migrations


def _move(apps, schema_editor, old_app: str, new_app: str, models: tuple[str, ...]) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    holders = [
        (model, field.name)
        for model in apps.get_models()
        if model is not Permission
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is ContentType
    ]
    for name in models:
        old = ContentType.objects.using(db).filter(app_label=old_app, model=name).first()
        if old is None:
            continue  # an empty database: post_migrate creates the new one
        new = ContentType.objects.using(db).filter(app_label=new_app, model=name).first()
        if new is None:
            old.app_label = new_app
            old.save(update_fields=["app_label"])
            continue
        # Both exist (permissions were created for the new app before this ran): keep the new one, give it
        # the old one's permissions (their groups and users) and relations, then drop the old one.
        for perm in Permission.objects.using(db).filter(content_type=old):
            twin = Permission.objects.using(db).filter(content_type=new, codename=perm.codename).first()
            if twin is None:
                perm.content_type = new
                perm.save(update_fields=["content_type"])
            else:
                twin.group_set.add(*perm.group_set.all())
                twin.user_set.add(*perm.user_set.all())
                perm.delete()
        for model, field in holders:
            model._default_manager.using(db).filter(**{field: old}).update(**{field: new})
        old.delete()
    ContentType.objects.clear_cache()


def move_content_types(*, old_app: str, new_app: str, models: tuple[str, ...]) -> migrations.RunPython:
    """A migration operation carrying ``models`` (lower-case model names) from ``old_app`` to ``new_app``;
    reversible."""

    def forwards(apps, schema_editor):
        _move(apps, schema_editor, old_app, new_app, models)

    def backwards(apps, schema_editor):
        _move(apps, schema_editor, new_app, old_app, models)

    return migrations.RunPython(forwards, backwards, elidable=False)
