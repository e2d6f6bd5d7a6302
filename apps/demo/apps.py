from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and a simulated router: `seed_demo` and `simulate_traffic`.

    At the top of the import graph: it imports every app, and no app imports it.
    """

    name = "apps.demo"
    label = "demo"
