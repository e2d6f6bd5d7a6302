from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    # Permissions are created per app after its migrations; sync once the last app is done.
    configs = list(apps.get_app_configs())
    with_models = [c for c in configs if c.models_module is not None]  # only those get it
    if sender is not with_models[-1]:
        return
    from django.contrib.auth.management import create_permissions

    for config in configs:
        create_permissions(config, verbosity=0, using=kwargs.get("using", "default"))
    from apps.accounts.roles import role_groups_sync

    role_groups_sync()


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "People and roles"

    def ready(self):
        post_migrate.connect(_sync_roles, dispatch_uid="switchboard.sync_roles")
        from apps.accounts import schema  # noqa: F401  (registers the API key scheme)
