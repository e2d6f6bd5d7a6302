"""Creating the role groups and giving people a role."""

from django.contrib.auth.models import Group, Permission

from apps.accounts.models import ROLE_PERMISSIONS, ROLES


def role_groups_sync() -> dict[str, Group]:
    """Create the viewer / operator / manager groups with their cumulative permissions."""
    groups, granted = {}, []
    for role in ROLES:
        granted = granted + ROLE_PERMISSIONS[role]
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for dotted in granted:
            app_label, codename = dotted.split(".")
            perms.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)
        groups[role] = group
    return groups


def user_set_role(*, user, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    groups = role_groups_sync()
    user.groups.remove(*[g for name, g in groups.items() if name != role])
    user.groups.add(groups[role])
