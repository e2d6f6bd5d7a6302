from django.contrib.auth.models import AbstractUser
from django.db import models

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
        "reviews.add_pairvote",
        "reviews.add_calltag",
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


class ApiKey(models.Model):
    """A key for routers and automation. Only its SHA-256 digest is stored.

    A plain digest rather than a slow password hash: the key is 256 random bits, so there is
    nothing to brute-force, and the router's hot path must check it in microseconds.
    """

    ROUTER, ADMIN = "router", "admin"
    SCOPES = [(ROUTER, "Router: assign and report calls"), (ADMIN, "Admin: also manage")]

    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to tell keys apart."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=8, choices=SCOPES, default=ROUTER)
    agents = models.ManyToManyField(
        "agents.Agent", blank=True, help_text="Limit the key to these agents (none = all agents)."
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
