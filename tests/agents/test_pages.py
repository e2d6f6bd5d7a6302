"""The agent page: compare any two prompt versions, roll back, connect a router."""

import html
import re

import pytest
from django.urls import reverse

from apps.agents.services import agent_prompt_update, prompt_rollback

pytestmark = pytest.mark.django_db

V1 = "You are the front desk. Greet {{caller_name}}."  # tests.factories.make_agent's prompt
V2 = "You are the front desk. Greet {{caller_name}} warmly."
V3 = "You are the front desk.\n\nGreet every caller warmly & <briefly>."


@pytest.fixture
def three_versions(agent, operator):
    agent_prompt_update(agent=agent, body=V2, user=operator, note="warmer")
    agent_prompt_update(agent=agent, body=V3, user=operator, note="no names")
    agent.refresh_from_db()
    return agent


def page_url(agent, query=""):
    return reverse("agents:detail", args=[agent.slug]) + query


def diff_of(text):
    """The <pre> holding the diff, as sent."""
    return re.search(r'<pre class="prompt diff">(.*?)</pre>', text, re.S).group(1)


def test_page_compares_the_previous_version_with_the_current_one(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions))
    assert response.status_code == 200
    assert '<option value="2" selected>v2</option>' in response.text
    assert '<option value="3" selected>v3 (current)</option>' in response.text
    assert "Going from <strong>v2</strong> to <strong>v3</strong>" in response.text
    assert "Greet <del>{{caller_name}}</del><ins>every</ins> <del>warmly.</del>" in diff_of(
        response.text
    )


def test_plain_get_renders_the_whole_page_with_the_chosen_diff(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions, "?a=1&b=3"))
    assert response.text.startswith("<!doctype html>")
    assert "Prompt history" in response.text and "Connect a router" in response.text
    assert '<option value="1" selected>v1</option>' in response.text
    diff = diff_of(response.text)
    # Whitespace is kept as it is (the <pre> shows it) and prompts are escaped.
    assert diff.startswith("You are the front desk.<del> </del><ins>\n\n</ins>Greet")
    assert "<ins>every caller warmly &amp; &lt;briefly&gt;.</ins>" in diff
    assert "<del>{{caller_name}}.</del>" in diff


def test_htmx_gets_only_the_diff_fragment(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions, "?a=1&b=2"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.text and "Prompt history" not in response.text
    assert "<select" not in response.text
    assert "Going from <strong>v1</strong> to <strong>v2</strong>" in response.text
    assert diff_of(response.text).endswith(
        "Greet <del>{{caller_name}}.</del><ins>{{caller_name}} warmly.</ins>"
    )
    assert "HX-Request" in response["Vary"]


def test_htmx_restoring_history_gets_the_whole_page(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(
        page_url(three_versions, "?a=1&b=2"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "Prompt history" in response.text


def test_versions_may_be_written_with_a_v(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions, "?a=v3&b=V1"), HTTP_HX_REQUEST="true")
    assert "Going from <strong>v3</strong> to <strong>v1</strong>" in response.text


@pytest.mark.parametrize("query", ["?a=9&b=3", "?a=1&b=0", "?a=abc", "?b=-1", "?a=1.5"])
def test_unknown_versions_get_a_clear_message_not_an_error(client, viewer, three_versions, query):
    client.force_login(viewer)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(page_url(three_versions, query), **headers)
        assert response.status_code == 200
        assert "There is no version" in response.text
        assert "Pick two of the versions in the lists (v1 to v3)." in response.text
        assert '<pre class="prompt diff">' not in response.text


def test_unknown_version_keeps_the_other_choice_in_the_lists(client, viewer, three_versions):
    client.force_login(viewer)
    text = client.get(page_url(three_versions, "?a=7&b=1")).text
    assert '<option value="2" selected>v2</option>' in text  # the default for "a"
    assert '<option value="1" selected>v1</option>' in text


def test_nonsense_in_a_version_is_shortened_and_escaped(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions, "?a=<b>" + "x" * 50), HTTP_HX_REQUEST="true")
    assert "There is no version “&lt;b&gt;xxxxxxxxxxxxxxxxx…”" in response.text


def test_the_same_version_twice_asks_for_two(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions, "?a=2&b=2"), HTTP_HX_REQUEST="true")
    assert "Pick two different versions" in response.text


def test_one_version_says_when_there_will_be_something_to_compare(client, viewer, agent):
    client.force_login(viewer)
    response = client.get(page_url(agent))
    assert "There is only one version so far." in response.text
    assert '<form class="compare"' not in response.text


def test_after_a_rollback_to_v1_it_compares_with_what_was_undone(client, viewer, three_versions):
    prompt_rollback(agent=three_versions, version=three_versions.versions.get(number=1))
    client.force_login(viewer)
    response = client.get(page_url(three_versions))
    assert "Going from <strong>v3</strong> to <strong>v1</strong>" in response.text


def test_diff_warns_when_a_placeholder_disappears(client, viewer, three_versions):
    client.force_login(viewer)
    response = client.get(page_url(three_versions, "?a=2&b=3"), HTTP_HX_REQUEST="true")
    assert "{{caller_name}} is in v2 but not in v3" in response.text


def test_compare_form_works_without_javascript_and_with_htmx(client, viewer, three_versions):
    client.force_login(viewer)
    text = client.get(page_url(three_versions)).text
    form = re.search(r'<form class="compare".*?</form>', text, re.S).group(0)
    assert 'method="get"' in form and "<button>Compare</button>" in form
    assert f'hx-get="{page_url(three_versions)}"' in form and 'hx-target="#diff"' in form
    assert '<label for="compare-a">Compare</label>' in form and 'id="compare-a" name="a"' in form
    assert '<label for="compare-b">with</label>' in form and 'id="compare-b" name="b"' in form


def test_rollback_confirmation_says_what_routers_get(client, operator, three_versions):
    client.force_login(operator)
    text = client.get(page_url(three_versions)).text
    assert "Routers get v1 on their next call." in text
    assert "Make v1 current" in text and "Make v3 current" not in text


def test_page_lists_the_agents_experiments_with_status(client, viewer, experiment):
    client.force_login(viewer)
    text = client.get(page_url(experiment.agent)).text
    assert f'<a href="{experiment.get_absolute_url()}">Warmer greeting</a>' in text
    assert '<span class="badge draft">Draft</span>' in text


def test_page_loads_the_call_volume_and_links_it_for_no_script(client, viewer, agent):
    client.force_login(viewer)
    text = client.get(page_url(agent)).text
    volume_url = reverse("calls:agent-volume", args=[agent.slug])
    assert f'hx-get="{volume_url}" hx-trigger="load"' in text
    assert f'<p><a href="{volume_url}">See calls per day</a></p></noscript>' in text


def test_router_snippet_has_the_slug_and_the_address_the_page_was_asked_at(
    client, viewer, agent, settings
):
    settings.SITE_URL = "https://switchboard.example.com/"  # for emails and webhooks, not here
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    client.force_login(viewer)
    text = html.unescape(client.get(page_url(agent), HTTP_HOST="127.0.0.1:8765").text)
    assert "<summary>Connect a router</summary>" in text
    assert "curl -X POST http://127.0.0.1:8765/api/v1/assignments" in text
    assert "curl -X POST http://127.0.0.1:8765/api/v1/calls" in text
    assert 'Client("http://127.0.0.1:8765", api_key="sb_...")' in text
    assert ":8000" not in text and "switchboard.example.com" not in text
    assert f'a = client.assign("{agent.slug}", caller="+15550100"' in text
    assert f'"agent": "{agent.slug}"' in text and "client.report({" in text
    assert 'create_api_key --name "My router" --scope router' in text


def test_snippet_requests_are_ones_the_api_accepts(client, viewer, agent, api, router_key):
    client.force_login(viewer)
    text = html.unescape(client.get(page_url(agent)).text)
    assign_body, report_body = re.findall(r"-d '(.*?)'", text, re.S)
    answer = api.post("/api/v1/assignments", raw=assign_body, key=router_key)
    assert answer.status_code == 200, answer.content
    assert answer.json()["prompt"]["body"] == agent.current_version.body
    report = api.post("/api/v1/calls", raw=report_body, key=router_key)
    assert report.json() == {"created": 1, "updated": 0}


def test_api_key_page_is_linked_only_for_staff(client, operator, agent):
    add_key = reverse("admin:accounts_apikey_add")
    client.force_login(operator)
    assert add_key not in client.get(page_url(agent)).text
    operator.is_staff = True
    operator.save()
    assert f'<a href="{add_key}">API keys page</a>' in client.get(page_url(agent)).text


@pytest.mark.parametrize("headers", [{}, {"HTTP_HX_REQUEST": "true"}])
def test_compare_needs_a_login(client, three_versions, headers):
    response = client.get(page_url(three_versions, "?a=1&b=3"), **headers)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_every_role_may_compare(client, three_versions, role, request):
    client.force_login(request.getfixturevalue(role))
    response = client.get(page_url(three_versions, "?a=1&b=3"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<del>" in response.text


def test_compare_on_an_unknown_agent_is_404(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse("agents:detail", args=["nobody"]) + "?a=1&b=2")
    assert response.status_code == 404


def test_the_agent_page_links_a_new_experiment_by_the_agents_slug(client, operator, agent):
    client.force_login(operator)
    text = client.get(page_url(agent)).text
    link = f"{reverse('experiments:new')}?agent={agent.slug}"
    assert f'<a href="{link}">New experiment on {agent.name}</a>' in text
    form = client.get(link).text
    assert f'<option value="{agent.slug}" selected>' in form
