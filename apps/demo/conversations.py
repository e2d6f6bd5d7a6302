"""What the demo's calls say, turn by turn, for each demo agent.

`seed_demo` and `simulate_traffic` both write transcripts from here, so that a call of the
dental front desk talks about appointments, a collections call about an overdue bill and a
sales call about a till system, each in the order people speak, and so that what a call's
outcome fields say (booked, a payment plan, a demo) is what its words say. An agent the demo
does not know gets a neutral conversation that names no business.
"""

import random
from collections.abc import Callable

Line = tuple[str, str]  # (speaker, text)

NAMES = [
    "Sam Lee",
    "Priya Shah",
    "Tom Becker",
    "Ana Costa",
    "Lena Fischer",
    "Omar Haddad",
    "Grace Kim",
    "Luis Romero",
    "Mia Novak",
    "Ben Carter",
]
WORDS_PER_SECOND = 2.6  # a calm speaking pace


# Where demo callers call from: area codes of a few North American and British cities, with
# the 555 exchange (long kept for films and directory help) and Ofcom's drama range 020 7946
# 0xxx, so the country segment has something to show.
AREAS = [("+1212555", 0.35), ("+1415555", 0.25), ("+1312555", 0.15), ("+1416555", 0.15)]
UK = "+44207946"


def caller_number(rng: random.Random) -> str:
    """A made-up phone number in E.164: mostly US, some Canadian, a few British."""
    draw = rng.random()
    for prefix, share in AREAS:
        if draw < share:
            return f"{prefix}{rng.randint(0, 9999):04d}"
        draw -= share
    return f"{UK}0{rng.randint(0, 999):03d}"


def post_call_fields(rng: random.Random, call: dict) -> dict:
    """What a router's post-call analysis adds: a yes/no, a number and a text field, so the
    agent's metrics page can offer them as metrics and the results can be split by them."""
    stars = 4 if call["converted"] else 3 if call["completed"] else 2
    return {
        "booked_visit": bool(call["converted"]),
        "satisfaction": max(1, min(5, stars + rng.choice([-1, 0, 0, 1]))),
        "language": rng.choices(["en", "es", "fr"], weights=[8, 3, 1])[0],
    }


def caller_name(caller: str) -> str:
    """The same name for the same phone number, on every call."""
    return NAMES[sum(map(ord, caller)) % len(NAMES)]


# --- Front desk: Harbor Dental's main number -------------------------------------------------

DENTAL_REQUESTS = [
    ("Hi, I'd like to book a cleaning.", "cleaning"),
    ("I've had a toothache since yesterday. Can someone see me this week?", "check of that tooth"),
    ("I need to move my check-up on Friday, something came up.", "check-up"),
    ("My son is due for his six-month check-up.", "check-up for your son"),
]
DENTAL_SLOTS = ["Tuesday at 9:30", "Wednesday at 2:15", "Thursday at 11:00", "Friday at 8:45"]
DENTAL_MIDDLE = [
    ("Of course. Can I confirm your date of birth?", "It's the 3rd of March, 1985."),
    ("Have you been to see us before?", "Yes, I came in last spring."),
]


def front_desk(rng: random.Random, *, name: str, converted: bool, variant: str = "") -> dict:
    """A caller asks for an appointment; `converted` means one is booked. Variant b of the
    demo ("Warm thanks") thanks the caller by name first. A caller who books nothing is,
    one time in four, put through to the nurse (a transfer)."""
    first = name.split()[0]
    if variant == "b":
        opening = (
            f"Harbor Dental, this is Ava. Thank you so much for calling, {first}! "
            "How can I help today?"
        )
    else:
        opening = f"Harbor Dental, this is Ava. Hi {first}, how can I help?"
    request, what = rng.choice(DENTAL_REQUESTS)
    slot = rng.choice(DENTAL_SLOTS)
    lines = [("agent", opening), ("caller", request)]
    if rng.random() < 0.5:
        lines += _pair(rng.choice(DENTAL_MIDDLE))
    lines.append(("agent", f"The earliest free slot for a {what} is {slot}. Does that work?"))
    transferred = False
    if converted:
        lines += [
            ("caller", f"Yes, {slot.split(' at ')[0]} works."),
            ("agent", f"You're booked for {slot}. We'll text you a reminder the day before."),
        ]
        tail = ("caller", "Great, thank you!")
    elif rng.random() < 0.25:
        transferred = True
        lines += [
            ("caller", "That's too late, it really hurts. Can I talk to someone?"),
            ("agent", "I'll put you through to our dental nurse now. One moment, please."),
        ]
        tail = None
    else:
        lines += [
            ("caller", "That doesn't work for me. I'll check my calendar and call back."),
            ("agent", "No problem. Call us any time and we'll find a slot."),
        ]
        tail = ("caller", "Okay, bye.")
    if tail and rng.random() < 0.6:
        lines.append(tail)
    return {"lines": lines, "converted": converted, "transferred": transferred, "completed": True}


# --- Collections: Northwind Energy calls customers about an overdue bill ---------------------

BILL_REPLIES = [
    "I know, money's been tight this month.",
    "I thought I had paid that already.",
    "Oh, I didn't realise it was overdue.",
]


def collections(rng: random.Random, *, name: str, converted: bool, variant: str = "") -> dict:
    """An overdue bill; `converted` means the customer agrees to a payment plan."""
    first = name.split()[0]
    amount = rng.choice([84.60, 126.30, 212.75, 298.10, 361.40])
    due = rng.choice(["3rd", "9th", "14th", "21st"])
    lines = [
        ("agent", f"Hello, this is Nora calling from Northwind Energy. Am I speaking with {name}?"),
        ("caller", "Yes, speaking."),
        (
            "agent",
            f"Thanks, {first}. I'm calling about your energy bill of ${amount:.2f}, "
            f"which was due on the {due}.",
        ),
        ("caller", rng.choice(BILL_REPLIES)),
        (
            "agent",
            f"We can split it into three monthly payments of ${amount / 3:.2f}. Would that help?",
        ),
    ]
    if converted:
        lines += [
            ("caller", "Yes, let's do that."),
            ("agent", "Done: the first payment is on the 1st. You'll get a confirmation by email."),
        ]
    else:
        lines += [
            ("caller", "I'd rather not commit to anything today."),
            ("agent", "I understand. You can call us any time to set up a plan."),
        ]
    if rng.random() < 0.6:
        lines.append(("caller", "Thanks, goodbye."))
    return {"lines": lines, "converted": converted, "transferred": False, "completed": True}


# --- Sales outbound: Lumen POS calls owners who asked for a quote ----------------------------

SHOPS = [
    ("We run a bakery", "two tills"),
    ("It's a bike shop", "one till"),
    ("We have two cafés", "four tills"),
    ("A small grocery store", "three tills"),
]
BUDGETS = ["two thousand dollars", "about fifteen hundred", "three to four thousand"]
WHEN = ["before the summer", "next month", "in the autumn, after our busy season"]
DEMO_DAYS = ["Thursday morning", "Monday afternoon", "Wednesday at ten"]


def sales(
    rng: random.Random,
    *,
    name: str,
    converted: bool,
    variant: str = "",
    judged: str = "",
) -> dict:
    """An outbound call; `converted` means a demo is booked. `judged` is the verdict the
    demo's judge gives the criterion "learns the budget and timeline without being pushy":
    "pass" calls ask both and hear both answers, "fail" calls never ask the budget, and
    "unknown" calls end before the topic can come up (the owner cannot talk)."""
    first = name.split()[0]
    judged = judged or ("pass" if variant == "b" or rng.random() < 0.4 else "fail")
    lines = [
        (
            "agent",
            f"Hi {first}, this is Max from Lumen POS. You asked us for a quote on our tills. "
            "Is now a good time?",
        )
    ]
    if judged == "unknown":
        lines += [
            ("caller", "Sorry, I'm with a customer. Can you call me back later?"),
            ("agent", "Of course, I'll try again this afternoon. Bye for now."),
        ]
        return {"lines": lines, "transferred": False, "completed": False, "converted": False}
    shop, tills = rng.choice(SHOPS)
    budget, when = rng.choice(BUDGETS), rng.choice(WHEN)
    about_shop = [
        ("agent", "What do you sell, and how many tills do you run?"),
        ("caller", f"{shop}, {tills}."),
    ]
    lines.append(("caller", "Sure, I have a few minutes."))
    if judged == "pass" and variant == "b":  # the variant asks early, as its prompt says
        lines += [
            (
                "agent",
                "Great. So that I can suggest the right plan: what budget do you have in mind, and "
                "when would you like to switch?",
            ),
            ("caller", f"{budget.capitalize()} all in, and we'd like to switch {when}."),
            *about_shop,
        ]
    elif judged == "pass":
        lines += [
            *about_shop,
            ("agent", "When would you like to switch, and do you have a budget in mind?"),
            ("caller", f"We'd like to switch {when}. {budget.capitalize()}, roughly."),
        ]
    else:
        lines += [
            *about_shop,
            ("agent", "When would you like to switch?"),
            ("caller", f"{when.capitalize()}, ideally."),
        ]
    day = rng.choice(DEMO_DAYS)
    lines.append(("agent", f"Would a twenty-minute demo on {day} help you decide?"))
    if converted:
        lines += [
            ("caller", f"Yes, {day} works."),
            ("agent", f"Great, I'll send you an invite by email. Thanks, {first}!"),
        ]
    else:
        lines += [
            ("caller", "Not yet. Just email me the prices, please."),
            ("agent", "Will do, I'll send them today. Thanks for your time."),
        ]
    return {"lines": lines, "converted": converted, "transferred": False, "completed": True}


# --- Any other agent: a neutral call that names no business ----------------------------------

GENERIC_REQUESTS = [
    "Hi, I have a question about my order.",
    "I'd like to update my contact details.",
    "Can you tell me when you're open on Saturdays?",
]


def generic(rng: random.Random, *, name: str, converted: bool, variant: str = "") -> dict:
    """A caller with a question; `converted` means they got what they called for. One who
    did not is, one time in four, put through to a colleague (a transfer)."""
    lines = [
        ("agent", "Hello, thanks for calling. How can I help you today?"),
        ("caller", rng.choice(GENERIC_REQUESTS)),
    ]
    if rng.random() < 0.5:
        lines += _pair(("Of course. Could I have your name, please?", f"It's {name}."))
    if converted:
        lines += [
            ("agent", "All done. Is there anything else I can help with?"),
            ("caller", "No, that's everything. Thanks!"),
        ]
    elif rng.random() < 0.25:
        lines += [
            ("agent", "A colleague can help with that. I'll put you through now."),
            ("caller", "Okay, thanks."),
        ]
        return {"lines": lines, "converted": False, "transferred": True, "completed": True}
    else:
        lines += [
            ("agent", "I'm sorry, I can't do that over the phone. Is there anything else?"),
            ("caller", "No. I'll try another way."),
        ]
    if rng.random() < 0.5:
        lines.append(("agent", "Thanks for calling. Goodbye!"))
    return {"lines": lines, "converted": converted, "transferred": False, "completed": True}


SCRIPTS: dict[str, Callable[..., dict]] = {
    "front-desk": front_desk,
    "collections": collections,
    "sales-outbound": sales,
}


def script_for(agent_slug: str) -> Callable[..., dict]:
    """The agent's script: called with (rng, name=, converted=, variant=), it answers
    {"lines": [(speaker, text)...], "converted", "transferred", "completed"}, the outcome
    fields as the words have it (a call cut short converts nothing)."""
    return SCRIPTS.get(agent_slug, generic)


def timed(rng: random.Random, lines: list[Line]) -> tuple[list[dict], float]:
    """Transcript turns with start times that only go up (each line takes as long as its
    words at a calm pace, then a short pause), and the call's length in seconds."""
    clock, turns = 0.0, []
    for speaker, text in lines:
        turns.append({"speaker": speaker, "text": text, "start_seconds": round(clock, 1)})
        clock += len(text.split()) / WORDS_PER_SECOND + rng.uniform(0.6, 2.5)
    return turns, round(clock + rng.uniform(1.0, 4.0), 1)


def _pair(texts: tuple[str, str]) -> list[Line]:
    return [("agent", texts[0]), ("caller", texts[1])]


def how_it_ran(rng: random.Random, turns: list[dict], seconds: float, call: dict) -> dict:
    """What a voice platform reports about how the agent ran, with plausible distributions:
    a response time per agent turn (lognormal, median ~0.7 s) and their mean, tokens from
    the words said and the prompt re-sent each turn, a cost from tokens and minutes, tool
    calls (more when the call books something) that fail now and then, the caller talking
    over the agent, and who ended the call. Sets `latency_ms` on the agent turns."""
    latencies = []
    for turn in turns[1:]:  # the greeting is played at once
        if turn["speaker"] == "agent":
            turn["latency_ms"] = round(rng.lognormvariate(6.55, 0.35), 1)
            latencies.append(turn["latency_ms"])
    agent_words = sum(len(t["text"].split()) for t in turns if t["speaker"] == "agent")
    agent_turns = sum(t["speaker"] == "agent" for t in turns)
    tokens_in = 1_200 * agent_turns + sum(len(t["text"].split()) * 2 for t in turns)
    tokens_out = round(agent_words * 1.4)
    tools = rng.choice([0, 0, 1, 1, 2]) + (1 if call["converted"] else 0)
    if call["transferred"]:
        ended_by, reason = "transfer", "asked for a person"
    elif not call["completed"]:
        ended_by, reason = "caller", rng.choice(["hung up early", "voicemail", "line dropped"])
    else:
        ended_by, reason = rng.choice(["agent", "agent", "caller"]), "said goodbye"
    return {
        "response_latency_ms": round(sum(latencies) / len(latencies), 1) if latencies else None,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost_usd": round(tokens_in * 2.5e-6 + tokens_out * 1e-5 + seconds / 60 * 0.07, 4),
        "tool_calls": tools,
        "tool_errors": sum(rng.random() < 0.05 for _ in range(tools)),
        "interruptions": min(int(rng.expovariate(1.5)), 6),
        "ended_by": ended_by,
        "end_reason": reason,
    }
