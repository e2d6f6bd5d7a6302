"""Play a router against a running Switchboard: for each call, ask for an assignment, make up
a plausible conversation and report it, over HTTP through the same client real routers use.

Seeded, so a run can be repeated: the same seed makes the same calls with the same call ids,
and reporting a call again updates it rather than counting it twice.
"""

import logging
import os
import random
import re
import time
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from switchboard_client import Client, SwitchboardError, SwitchboardUnavailable

from apps.accounts.services import api_key_create, api_key_revoke
from apps.agents.models import Agent
from apps.demo.conversations import (
    caller_name,
    caller_number,
    how_it_ran,
    post_call_fields,
    script_for,
    timed,
)
from apps.experiments.models import Status

EFFECT = re.compile(r"(?P<key>[a-z0-9_-]+)=(?P<lift>[+-]?(\d+\.?\d*|\.\d+))")
NO_VARIANT = "(no variant)"
KEY_WAIT_SECONDS = 10  # a running server learns of a new key within a second or so


class Command(BaseCommand):
    help = (
        "Send simulated calls to a running Switchboard through the router client: assign, "
        "then report each call. --effect b=+0.05 makes variant b convert 5 points more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, metavar="SLUG", help="The agent called.")
        parser.add_argument("--calls", required=True, type=int, help="How many calls to make.")
        parser.add_argument(
            "--effect",
            action="append",
            default=[],
            metavar="KEY=±RATE",
            help="Extra conversion for a variant, e.g. b=+0.05 (repeat for several).",
        )
        parser.add_argument(
            "--url",
            help="Switchboard's address (default: SITE_URL, or http://127.0.0.1:PORT when "
            "only PORT is set, as for `PORT=8765 make run`).",
        )
        parser.add_argument("--key", help="A router key (default: a new one, revoked after).")
        parser.add_argument("--callers", type=int, help="Distinct callers (default: calls / 2).")
        parser.add_argument("--seed", type=int, help="Repeat a run (default: a random seed).")
        parser.add_argument("--base-rate", type=float, default=0.2, help="Conversion rate.")
        parser.add_argument("--days", type=float, default=14, help="Spread calls over days.")

    def handle(self, *args, **options):
        agent = _agent(options["agent"])
        effects = _effects(options["effect"], agent)
        _check_numbers(options)
        seed = options["seed"] if options["seed"] is not None else random.randrange(1_000_000)
        url = (options["url"] or _default_url()).rstrip("/")
        key, made = _key(options["key"])
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        try:
            tally = self._simulate(agent, url, key, effects, seed, options, waits=made is not None)
        except SwitchboardUnavailable as error:
            raise CommandError(
                f"Is Switchboard running at {url}? {error} If it runs elsewhere, say where "
                "with --url, e.g. --url http://127.0.0.1:8765."
            ) from None
        except SwitchboardError as error:
            raise CommandError(f"Switchboard at {url} refused: {error}") from None
        finally:
            if made is not None:
                api_key_revoke(key=made, user="simulate_traffic")
        self._summarize(tally, agent, url, seed)

    def _simulate(self, agent, url, key, effects, seed, options, waits):
        rng, now = random.Random(seed), timezone.now()
        calls, days = options["calls"], options["days"]
        callers = _callers(rng, options["callers"] or max(1, calls // 2))
        tally = {"calls": Counter(), "converted": Counter(), "fallbacks": 0}
        with Client(url, key, timeout=1.0, max_retries=3) as client:
            for n in range(calls):
                caller, call_id = rng.choice(callers), f"sim-{seed}-{n:06d}"
                assignment = _assign(client, agent.slug, caller, call_id, patient=waits and n == 0)
                rate = options["base_rate"] + effects.get(assignment.variant_key, 0.0)
                started = now - timedelta(seconds=rng.uniform(0, days * 86_400))
                report = _call(rng, assignment, caller, call_id, rate, started)
                client.report(report)
                _count(tally, assignment, report["converted"])
            client.flush()
            tally["undelivered"] = client.undelivered()
        return tally

    def _summarize(self, tally, agent, url, seed):
        total = sum(tally["calls"].values())
        self.stdout.write(f"Simulated {total:,} calls of {agent.slug} at {url} (--seed {seed}).")
        self.stdout.write(f"{'variant':<14}{'calls':>8}{'converted':>11}")
        for label, count in sorted(tally["calls"].items(), key=_control_first):
            rate = tally["converted"][label] / count
            self.stdout.write(f"{label:<14}{count:>8,}{rate:>11.1%}")
        self.stdout.write(f"Fallbacks: {tally['fallbacks']:,}.")
        if tally["undelivered"]:
            self.stderr.write(f"{tally['undelivered']:,} of them could not be reported.")


def _default_url() -> str:
    """SITE_URL when it is set; else the port `make run` serves on when PORT says it."""
    if "SITE_URL" not in os.environ and os.environ.get("PORT", "").isdigit():
        return f"http://127.0.0.1:{os.environ['PORT']}"
    return settings.SITE_URL


def _control_first(item) -> tuple:
    label = item[0]
    return (label == NO_VARIANT, label != "control", label)


def _agent(slug: str) -> Agent:
    agent = Agent.objects.filter(slug=slug).first()
    if agent is None:
        known = ", ".join(Agent.objects.order_by("slug").values_list("slug", flat=True))
        raise CommandError(f"There is no agent “{slug}”. Agents: {known or 'none yet'}.")
    if agent.current_version_id is None:
        raise CommandError(f"The agent “{slug}” has no prompt yet.")
    return agent


def _effects(texts: list[str], agent: Agent) -> dict[str, float]:
    """{variant key: extra conversion} from KEY=±RATE, for variants of the running experiment."""
    effects = {}
    for text in texts:
        match = EFFECT.fullmatch(text.strip())
        if match is None:
            raise CommandError(
                f"“{text}” is not an effect. Write KEY=±RATE, e.g. --effect b=+0.05 "
                "(variant b converts 5 percentage points more)."
            )
        effects[match["key"]] = float(match["lift"])
    running = agent.experiments.filter(status=Status.RUNNING).first()
    keys = set(running.variants.values_list("key", flat=True)) if running else set()
    unknown = sorted(set(effects) - keys)
    if unknown and running is None:
        raise CommandError(f"“{agent.slug}” runs no experiment, so --effect has no variant.")
    if unknown:
        raise CommandError(f"No variant {', '.join(unknown)}; variants: {', '.join(sorted(keys))}.")
    return effects


def _check_numbers(options) -> None:
    if options["calls"] < 1:
        raise CommandError("--calls must be at least 1.")
    if options["callers"] is not None and options["callers"] < 1:
        raise CommandError("--callers must be at least 1.")
    if not 0 <= options["base_rate"] <= 1:
        raise CommandError("--base-rate is a share of calls, between 0 and 1 (e.g. 0.2).")
    if options["days"] <= 0:
        raise CommandError("--days must be more than 0.")


def _key(given: str | None):
    """(raw key, the ApiKey made for this run or None)."""
    if given:
        return given, None
    made, raw = api_key_create(name="simulator", scope="router", user="simulate_traffic")
    return raw, made


def _callers(rng: random.Random, count: int) -> list[str]:
    """`count` distinct made-up numbers: from a few cities (`caller_number`) while they last,
    then from the US's 555 range."""
    callers = {caller_number(rng) for _ in range(min(count, 2_000))}
    while len(callers) < count:
        callers.add(f"+1555{rng.randrange(10_000_000):07d}")
    return list(callers)[:count]


def _assign(client: Client, slug: str, caller: str, call_id: str, patient: bool):
    """The assignment. A patient first call waits for a running server to learn of the key
    just made (its routing table reloads about once a second) and to warm up."""
    deadline = time.monotonic() + (KEY_WAIT_SECONDS if patient else 0)
    while True:
        try:
            return client.assign(slug, caller, call_id)
        except (SwitchboardError, SwitchboardUnavailable) as error:
            waiting = not isinstance(error, SwitchboardError) or error.status == 401
            if not waiting or time.monotonic() >= deadline:
                raise
        time.sleep(0.25)


def _call(rng: random.Random, assignment, caller, call_id, rate, started) -> dict:
    """A plausible report: converted with probability `rate`, a conversation in the agent's
    own words that ends the way the outcome says (apps.demo.conversations), a
    mood that leans the same way."""
    script = script_for(assignment.agent)
    call = script(
        rng,
        name=caller_name(caller),
        converted=rng.random() < min(max(rate, 0.0), 1.0),
        variant=assignment.variant_key or "",
    )
    transcript, seconds = timed(rng, call["lines"])
    mood = rng.gauss(0.45 if call["converted"] else 0.0, 0.25)
    return {
        "call_id": call_id,
        "agent": assignment.agent,
        "caller": caller,
        "variant": assignment.variant_id,
        "experiment": assignment.experiment_id,
        "started_at": started,
        "duration_seconds": seconds,
        "converted": call["converted"],
        "sentiment": round(min(max(mood, -1.0), 1.0), 2),
        "transferred": call["transferred"],
        "completed": call["completed"],
        "transcript": transcript,
        "fields": {
            "simulated": True,
            "fallback": assignment.fallback,
            **post_call_fields(rng, call),
        },
        **how_it_ran(rng, transcript, seconds, call),
    }


def _count(tally: dict, assignment, converted: bool) -> None:
    label = assignment.variant_key or NO_VARIANT
    tally["calls"][label] += 1
    tally["converted"][label] += converted
    tally["fallbacks"] += assignment.fallback
