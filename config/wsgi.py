import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from apps.assignments.fast import with_fast_assignments  # noqa: E402  (needs Django set up)

application = with_fast_assignments(django_application)
