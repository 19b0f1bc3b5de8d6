"""What Django's own auth records into the audit log, whatever page or admin screen made the change: staff
sign-ins, failures and sign-outs (auth signals); roles (groups) and direct permissions of a user; the
permissions of a role; a staff account created, deleted, (de)activated, made staff or superuser, or given a
new password. Connected by CommonConfig.ready."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from .audit import Action, ActorKind, audit_record

ACCOUNT_FLAGS = ("is_active", "is_staff", "is_superuser")


def _signed_in(sender, request, user, **kwargs):
    audit_record(action=Action.STAFF_SIGN_IN, actor=user, target=user, request=request)


def _sign_in_failed(sender, credentials, request=None, **kwargs):
    User = get_user_model()
    typed = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")[:254]
    known = User._default_manager.filter(**{User.USERNAME_FIELD: typed}).first() if typed else None
    audit_record(
        action=Action.STAFF_SIGN_IN_FAILED,
        actor=known,
        actor_kind=ActorKind.STAFF,
        actor_label=typed,
        details={"known_user": known is not None},
        request=request,
    )


def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action=Action.STAFF_SIGN_OUT, actor=user, target=user, request=request)


def _names(model, pks) -> set[str]:
    if model is Permission:
        rows = Permission.objects.filter(pk__in=pks).select_related("content_type")
        return {f"{p.content_type.app_label}.{p.codename}" for p in rows}
    return {str(obj) for obj in model._default_manager.filter(pk__in=pks)}


def m2m_changes(field_name: str, before: set[str], after: set[str], *, whole_sets: bool = True) -> dict:
    """Before and after of a set (roles, locations), or only what was added and removed (a role's
    permissions: long lists)."""
    if whole_sets:
        return {field_name: {"before": sorted(before), "after": sorted(after)}}
    return {field_name: {"added": sorted(after - before), "removed": sorted(before - after)}}


def m2m_receiver(*, action: str, field_name: str, owner_model, related_model, whole_sets: bool = True):
    """A receiver of ``m2m_changed`` for ``owner_model.<field_name>``, from either side of the relation
    (``user.groups.add(group)`` or ``group.user_set.add(user)``), writing one entry per owner whose set
    changed, with the set before and after."""

    def current(owner) -> set[str]:
        return _names(related_model, getattr(owner, field_name).values_list("pk", flat=True))

    def receiver(sender, instance, action: str, reverse: bool, model, pk_set, **kwargs):
        if action.startswith("pre_"):
            if not reverse:
                owners = [instance]
            elif action == "pre_clear":
                owners = list(owner_model._default_manager.filter(**{field_name: instance}))
            else:
                owners = list(owner_model._default_manager.filter(pk__in=pk_set or ()))
            instance._audit_m2m_before = [(owner, current(owner)) for owner in owners]
            return
        for owner, before in getattr(instance, "_audit_m2m_before", []):
            after = current(owner)
            if after != before:
                audit_record(
                    action=entry_action,
                    target=owner,
                    changes=m2m_changes(field_name, before, after, whole_sets=whole_sets),
                    details={"added": sorted(after - before), "removed": sorted(before - after)},
                )
        instance._audit_m2m_before = []

    entry_action = action
    return receiver


def _account_before(sender, instance, update_fields=None, raw=False, **kwargs):
    """Keep the stored flags and password hash of a user about to be saved (not for the last-login stamp or
    a password re-hash at sign-in, which save only those fields)."""
    if raw or (update_fields is not None and set(update_fields) <= {"last_login", "password"}):
        instance._audit_before = None
        return
    if instance.pk is None:
        instance._audit_before = {}
        return
    instance._audit_before = (
        sender._default_manager.filter(pk=instance.pk).values("password", *ACCOUNT_FLAGS).first() or {}
    )


def _account_saved(sender, instance, created, raw=False, **kwargs):
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = None
    if raw or before is None:
        return
    if created or not before:
        audit_record(
            action=Action.STAFF_ACCOUNT_CHANGED,
            target=instance,
            changes={flag: {"before": None, "after": getattr(instance, flag)} for flag in ACCOUNT_FLAGS},
            details={
                "operation": "created",
                "password": "set" if instance.has_usable_password() else "not set",
            },
        )
        return
    changes = {
        flag: {"before": before[flag], "after": getattr(instance, flag)}
        for flag in ACCOUNT_FLAGS
        if before[flag] != getattr(instance, flag)
    }
    if before["password"] != instance.password:
        changes["password"] = {"before": "set", "after": "replaced"}
    if changes:
        audit_record(
            action=Action.STAFF_ACCOUNT_CHANGED,
            target=instance,
            changes=changes,
            details={"operation": "changed"},
        )


def _account_deleted(sender, instance, **kwargs):
    audit_record(action=Action.STAFF_ACCOUNT_CHANGED, target=instance, details={"operation": "deleted"})


def connect() -> None:
    User = get_user_model()
    user_logged_in.connect(_signed_in, dispatch_uid="audit.signed_in")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="audit.sign_in_failed")
    user_logged_out.connect(_signed_out, dispatch_uid="audit.signed_out")
    m2m_changed.connect(
        m2m_receiver(action=Action.ROLE_CHANGED, field_name="groups", owner_model=User, related_model=Group),
        sender=User.groups.through,
        weak=False,
        dispatch_uid="audit.user_groups",
    )
    m2m_changed.connect(
        m2m_receiver(
            action=Action.ROLE_CHANGED,
            field_name="user_permissions",
            owner_model=User,
            related_model=Permission,
        ),
        sender=User.user_permissions.through,
        weak=False,
        dispatch_uid="audit.user_permissions",
    )
    m2m_changed.connect(
        m2m_receiver(
            action=Action.ROLE_PERMISSIONS_CHANGED,
            field_name="permissions",
            owner_model=Group,
            related_model=Permission,
            whole_sets=False,
        ),
        sender=Group.permissions.through,
        weak=False,
        dispatch_uid="audit.group_permissions",
    )
    pre_save.connect(_account_before, sender=User, dispatch_uid="audit.account_before")
    post_save.connect(_account_saved, sender=User, dispatch_uid="audit.account_saved")
    post_delete.connect(_account_deleted, sender=User, dispatch_uid="audit.account_deleted")
