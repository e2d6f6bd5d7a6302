import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from apps.experiments.services import experiment_start, experiment_stop
from apps.reviews import selectors
from apps.reviews.models import CallTag, PairVote
from apps.reviews.services import call_tag, pair_vote
from apps.reviews.spec import SampleSpec
from tests.factories import make_agent, make_experiment, make_user
from tests.reviews.helpers import add_calls, transcript

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(experiment, operator):
    experiment = experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, "control", 12, transcript=transcript("Hello.", "Hi, a cleaning?"))
    add_calls(experiment, "b", 12, transcript=transcript("Thanks so much for calling!", "Hi!"))
    return experiment


def page_url(experiment, **params):
    query = {"a": "control", "b": "b", "n": "3", "seed": "42", **params}
    return (
        reverse("reviews:review", args=[experiment.pk])
        + "?"
        + "&".join(f"{k}={v}" for k, v in query.items())
    )


def first_pair(experiment, **kw):
    spec = SampleSpec(a="control", b="b", seed=42, n=3, **kw)
    return selectors.review_sample(experiment, spec).pairs[0]


def vote_form(experiment, pair, choice, **extra):
    """What the vote form of a pair posts: the sample's parameters, the pair, the choice."""
    return {
        "a": "control",
        "b": "b",
        "n": "3",
        "seed": "42",
        "index": str(pair.index),
        "left": str(pair.left.pk),
        "right": str(pair.right.pk),
        "choice": choice,
        "note": "",
        **extra,
    }


def test_a_viewer_reads_the_calls_but_sees_no_vote_or_tag_buttons(client, viewer, running):
    client.force_login(viewer)
    page = client.get(page_url(running)).text
    assert page.count('class="pair"') == 3
    assert "Thanks so much for calling!" in page and "Hi, a cleaning?" in page
    assert "Left is better" not in page and 'name="tag"' not in page


def test_a_viewer_may_not_vote_or_tag(client, viewer, running):
    client.force_login(viewer)
    pair = first_pair(running)
    form = vote_form(running, pair, "left")
    for name in ("vote", "tag", "untag"):
        url = reverse(f"reviews:{name}", args=[running.pk])
        assert client.post(url, {**form, "call": pair.left.pk, "tag": "rude"}).status_code == 403
    assert not PairVote.objects.exists() and not CallTag.objects.exists()


def test_a_page_without_a_seed_gets_one_so_it_can_be_shared(client, viewer, running):
    client.force_login(viewer)
    response = client.get(reverse("reviews:review", args=[running.pk]) + "?n=500")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response.status_code == 302 and query["seed"][0].isdigit()
    assert query["a"] == ["control"] and query["b"] == ["b"] and query["n"] == ["50"]
    page = client.get(response["Location"]).text
    assert "A sample has 1 to 50 calls per variant; showing 50." in page


def test_the_same_link_shows_the_same_calls_and_another_sample_changes_them(
    client, viewer, running
):
    client.force_login(viewer)
    first, again = client.get(page_url(running)).text, client.get(page_url(running)).text
    ids = re.findall(r"call (control-\d+|b-\d+)<", first)
    assert len(ids) == 6 and ids == re.findall(r"call (control-\d+|b-\d+)<", again)
    another = re.search(r'href="([^"]+)">Another sample', first).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(another).query)["seed"] != ["42"]


def test_a_manager_votes_with_htmx_and_gets_the_pair_back(client, manager, running):
    client.force_login(manager)
    pair = first_pair(running)
    response = client.post(
        reverse("reviews:vote", args=[running.pk]),
        vote_form(running, pair, "right", note="Warmer <b>opening</b>"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "review-changed"
    assert response.text.lstrip().startswith('<article class="pair" id="pair-1"')
    assert "<html" not in response.text
    assert "Vote saved. Your vote: Variant B better." in response.text
    assert 'value="Warmer &lt;b&gt;opening&lt;/b&gt;"' in response.text
    stored = PairVote.objects.get()
    assert stored.preferred_call_id == pair.right.pk and stored.reviewer == manager


def test_without_javascript_a_vote_redirects_to_the_same_sample(client, manager, running):
    client.force_login(manager)
    pair = first_pair(running)
    form = vote_form(running, pair, "both_good", outcome="", stratified="")
    response = client.post(reverse("reviews:vote", args=[running.pk]), form)
    assert response.status_code == 302
    assert response["Location"] == page_url(running) + "#pair-1"
    page = client.get(response["Location"]).text
    assert "Vote saved." in page and "Your vote: both good." in page


def test_an_operator_may_vote_too(client, operator, running):
    client.force_login(operator)
    pair = first_pair(running)
    response = client.post(
        reverse("reviews:vote", args=[running.pk]), vote_form(running, pair, "left")
    )
    assert response.status_code == 302 and PairVote.objects.count() == 1


def test_a_refused_vote_says_why(client, manager, running):
    client.force_login(manager)
    pair = first_pair(running)
    response = client.post(
        reverse("reviews:vote", args=[running.pk]),
        vote_form(running, pair, "maybe"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400 and "Say which call went better" in response.text
    assert not PairVote.objects.exists()


def test_a_call_of_another_experiment_is_not_found(client, manager, running, operator):
    other = make_experiment(agent=make_agent(user=operator), user=operator, name="Other")
    experiment_start(experiment=other, user=operator)
    stranger = add_calls(other, "b", 1, prefix="x")[0]
    client.force_login(manager)
    form = {**vote_form(running, first_pair(running), "left"), "right": str(stranger.pk)}
    assert client.post(reverse("reviews:vote", args=[running.pk]), form).status_code == 404


def test_a_manager_tags_and_untags_a_call(client, manager, running):
    client.force_login(manager)
    pair = first_pair(running)
    form = {**vote_form(running, pair, ""), "call": str(pair.left.pk), "tag": " Great  save "}
    response = client.post(reverse("reviews:tag", args=[running.pk]), form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "great save" in response.text
    assert 'aria-label="Remove your tag “great save”"' in response.text
    assert CallTag.objects.get().tag == "great save"
    form["tag"] = "x" * 41
    refused = client.post(reverse("reviews:tag", args=[running.pk]), form, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "Keep a tag to 40 characters" in refused.text
    form["tag"] = "great save"
    client.post(reverse("reviews:untag", args=[running.pk]), form, HTTP_HX_REQUEST="true")
    assert not CallTag.objects.exists()


def test_html_in_a_transcript_is_shown_as_text(client, viewer, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    evil = transcript("<script>alert(1)</script>", '<img src=x onerror="alert(2)">')
    add_calls(experiment, "control", 1, transcript=evil)
    add_calls(experiment, "b", 1)
    client.force_login(viewer)
    page = client.get(page_url(experiment)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page


def test_a_long_transcript_folds_after_thirty_turns(client, viewer, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, "control", 1, transcript=transcript(*[f"turn {i}" for i in range(45)]))
    add_calls(experiment, "b", 1)
    client.force_login(viewer)
    page = client.get(page_url(experiment)).text
    folded = page.split("<details", 1)[1]
    assert "Show all 45 turns" in folded and "turn 44" in folded and "turn 29" not in folded


def test_blind_mode_hides_names_until_every_pair_has_a_vote(client, manager, running):
    client.force_login(manager)
    url = page_url(running, blind="1")
    page = client.get(url).text
    assert "Variant B" not in page.split('class="pairs"')[1] and "Reveal" in page
    pairs = selectors.review_sample(
        running, SampleSpec(a="control", b="b", seed=42, n=3, blind=True)
    )
    keys = ",".join(f"{p.left.pk}-{p.right.pk}" for p in pairs.pairs)
    for pair in pairs.pairs:
        form = vote_form(running, pair, "left", blind="1", pairs=keys)
        response = client.post(
            reverse("reviews:vote", args=[running.pk]), form, HTTP_HX_REQUEST="true"
        )
        last = pair is pairs.pairs[-1]
        assert response.has_header("HX-Refresh") == last
        if not last:
            assert "the left call (A) better" in response.text
    revealed = client.get(url).text
    assert "Revealed." in revealed and "Variant B" in revealed.split('class="pairs"')[1]


def test_the_reveal_button_shows_the_names_at_once(client, viewer, running):
    client.force_login(viewer)
    page = client.get(page_url(running, blind="1", reveal="1")).text
    assert "Revealed." in page and "Variant B" in page.split('class="pairs"')[1]


def test_others_votes_show_only_after_yours_when_blind(client, manager, operator, running):
    pair = first_pair(running, blind=True)
    other = make_user("rita", role="manager")
    pair_vote(
        experiment=running,
        reviewer=other,
        call_a=pair.left,
        call_b=pair.right,
        choice="prefer_b",
        note="Friendlier",
    )
    client.force_login(manager)
    page = client.get(page_url(running, blind="1")).text
    assert "1 other reviewer voted on this pair" in page and "Friendlier" not in page
    response = client.post(
        reverse("reviews:vote", args=[running.pk]),
        vote_form(running, pair, "left", blind="1"),
        HTTP_HX_REQUEST="true",
    )
    assert "<strong>rita</strong>: the right call (B) better — “Friendlier”" in response.text
    plain = client.get(page_url(running)).text
    assert "rita" in plain


def test_the_tally_fragment_shows_shares_ranges_and_tags(client, viewer, manager, running):
    for pair in selectors.review_sample(running, SampleSpec(a="control", b="b", seed=1)).pairs[:8]:
        pair_vote(
            experiment=running,
            reviewer=manager,
            call_a=pair.left,
            call_b=pair.right,
            choice="prefer_b",
        )
        call_tag(call=pair.right, author=manager, tag="warm")
    client.force_login(viewer)
    fragment = client.get(reverse("reviews:tally", args=[running.pk]), HTTP_HX_REQUEST="true").text
    assert (
        "Reviewers preferred Variant B in 8 of the 8 pairs where they picked one (100%" in fragment
    )
    assert "95% range 68% to 100%" in fragment and "95% range 0% to 32%" in fragment
    assert 'warm <span class="rv-tag-count">\u00d78</span>' in fragment
    assert "8 votes by 1 reviewer." in fragment


def test_the_index_lists_experiments_with_calls_to_review(client, viewer, running, operator):
    draft = make_experiment(agent=make_agent(user=operator), user=operator, name="Still a draft")
    stopped = make_experiment(agent=make_agent(user=operator), user=operator, name="Stopped one")
    experiment_start(experiment=stopped, user=operator)
    add_calls(stopped, "b", 2, prefix="s")
    experiment_stop(experiment=stopped, user=operator)
    client.force_login(viewer)
    page = client.get(reverse("reviews:index")).text
    assert "Warmer greeting" in page and "Stopped one" in page and draft.name not in page
    assert reverse("reviews:review", args=[running.pk]) in page


def test_an_experiment_with_one_variant_explains_itself(client, viewer, operator):
    lone = make_experiment(agent=make_agent(user=operator), user=operator, weights=(100,))
    client.force_login(viewer)
    page = client.get(reverse("reviews:review", args=[lone.pk])).text
    assert "only one variant" in page


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_a_blind_vote_is_not_read_on_the_same_link_without_blind(client, manager, running, role):
    """Removing blind=1 from a review link showed a blind vote and its note to anyone."""
    pair = first_pair(running, blind=True)
    client.force_login(manager)
    form = vote_form(running, pair, "left", note="SECRETNOTE", blind="1")
    client.post(reverse("reviews:vote", args=[running.pk]), form)
    assert PairVote.objects.filter(note="SECRETNOTE").exists()

    client.force_login(make_user(f"{role}-2", role=role))
    page = client.get(page_url(running)).text
    assert "SECRETNOTE" not in page and "mona" not in page
    assert "1 other reviewer voted on this pair" in page
