from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import ApiKey
from apps.accounts.services import api_key_create
from apps.agents.models import Agent


class Command(BaseCommand):
    help = "Create an API key for a router or for automation; prints the key as the last line."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Who uses the key, e.g. 'EU router'.")
        parser.add_argument("--scope", choices=[ApiKey.ROUTER, ApiKey.ADMIN], default="router")
        parser.add_argument(
            "--agent",
            action="append",
            default=[],
            metavar="SLUG",
            help="Limit the key to this agent (repeat for several; default: all agents).",
        )

    def handle(self, *args, name, scope, agent, **options):
        agents = list(Agent.objects.filter(slug__in=agent))
        missing = sorted(set(agent) - {a.slug for a in agents})
        if missing:
            raise CommandError(f"No agent with the slug {', '.join(missing)}.")
        try:
            key, raw = api_key_create(name=name, scope=scope, agents=agents, user="command line")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        limit = ", ".join(a.slug for a in agents) or "all agents"
        self.stderr.write(f"Created {scope} key “{key.name}” for {limit}. It is shown only once:")
        self.stdout.write(raw)
