"""simulate_traffic plays a router over HTTP against the live Switchboard."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiKey
from apps.calls.models import Call
from apps.experiments.services import experiment_start

live = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def simulate(agent, *args, url="http://127.0.0.1:9"):
    out = StringIO()
    call_command("simulate_traffic", "--agent", agent.slug, "--url", url, *args, stdout=out)
    return out.getvalue()


def conversion(key):
    calls = Call.objects.filter(variant__key=key)
    return calls.count(), calls.filter(converted=True).count() / calls.count()


@live
def test_every_call_arrives_split_across_the_variants_with_the_effect_showing(live_server, running):
    # Each arm gets about 80 calls; +60 points is five standard errors above the bar of +30.
    output = simulate(
        running.agent,
        *("--calls", "160", "--callers", "160", "--seed", "3"),
        *("--base-rate", "0.1", "--effect", "b=+0.6"),
        url=live_server.url,
    )
    assert Call.objects.filter(experiment=running, after_stop=False).count() == 160
    (control_calls, control_rate), (b_calls, b_rate) = conversion("control"), conversion("b")
    assert control_calls + b_calls == 160 and min(control_calls, b_calls) > 40
    assert b_rate - control_rate > 0.3
    assert f"control{control_calls:>15}{control_rate:>11.1%}" in output
    assert "Simulated 160 calls" in output and "Fallbacks: 0." in output
    call = Call.objects.first()
    assert 4 <= len(call.transcript) <= 8 and call.fields["simulated"] is True
    assert {t["speaker"] for t in call.transcript} == {"agent", "caller"}


@live
def test_a_seed_repeats_a_run_and_repeating_it_counts_nothing_twice(
    live_server, running, router_key
):
    args = ("--calls", "20", "--seed", "11", "--key", router_key)
    simulate(running.agent, *args, url=live_server.url)
    first = list(Call.objects.order_by("call_id").values_list("call_id", "variant", "converted"))
    simulate(running.agent, *args, url=live_server.url)
    again = list(Call.objects.order_by("call_id").values_list("call_id", "variant", "converted"))
    assert len(first) == 20 and again == first


@live
def test_the_key_it_makes_is_revoked_after_the_run(live_server, agent):
    simulate(agent, "--calls", "3", url=live_server.url)
    key = ApiKey.objects.get(name="simulator")
    assert key.scope == "router" and key.revoked_at is not None
    assert Call.objects.filter(variant=None).count() == 3


@pytest.mark.django_db
def test_an_unknown_agent_is_named(agent):
    with pytest.raises(CommandError, match="There is no agent “front-dsk”"):
        call_command("simulate_traffic", "--agent", "front-dsk", "--calls", "5")


@pytest.mark.django_db
@pytest.mark.parametrize("effect", ["b=5%", "b+0.05", "=0.1"])
def test_a_malformed_effect_is_refused_with_an_example(running, effect):
    with pytest.raises(CommandError, match=r"e\.g\. --effect b=\+0\.05"):
        simulate(running.agent, "--calls", "5", "--effect", effect)


@pytest.mark.django_db
def test_an_effect_for_a_variant_that_does_not_exist_is_refused(running):
    with pytest.raises(CommandError, match="No variant c; variants: b, control"):
        simulate(running.agent, "--calls", "5", "--effect", "c=+0.1")


@pytest.mark.django_db
def test_nonsense_numbers_are_refused(agent):
    with pytest.raises(CommandError, match="--base-rate is a share of calls"):
        simulate(agent, "--calls", "5", "--base-rate", "20")
