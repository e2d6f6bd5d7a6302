from django.contrib.auth.models import AbstractUser

# Roles are groups; each one includes the permissions of the one before it.
VIEWER, OPERATOR, MANAGER = "viewer", "operator", "manager"
ROLES = (VIEWER, OPERATOR, MANAGER)

ROLE_PERMISSIONS = {
    VIEWER: [],
    OPERATOR: [
        "agents.add_agent",
        "agents.change_agent",
        "agents.add_promptversion",
        "experiments.add_experiment",
        "experiments.change_experiment",
        "experiments.run_experiment",
    ],
    MANAGER: ["experiments.apply_winner"],
}


class User(AbstractUser):
    @property
    def role(self) -> str:
        """The highest role this person holds, in plain words ('viewer' when none)."""
        if self.is_superuser:
            return MANAGER
        names = {group.name for group in self.groups.all()}
        for role in reversed(ROLES):
            if role in names:
                return role
        return VIEWER

    @property
    def can_operate(self) -> bool:
        return self.has_perm("experiments.run_experiment")

    @property
    def can_apply(self) -> bool:
        return self.has_perm("experiments.apply_winner")
