"""The checks a scenario makes on a simulated transcript, each giving pass, fail or error.

    fact       the value appears in what the agent said. Compared after normalising both:
               case folded, accents removed (é -> e), punctuation turned into spaces, runs of
               spaces collapsed, and spaces between digits removed ("555 01 23" = "5550123",
               "March 3rd," = "march 3rd"). Whole words only: "3" is not found in "13".
               Dates are not interpreted ("3/4" and "March 4" differ): write the value the
               way the agent is told to say it.
    forbidden  the phrase (normalised the same way) in any agent turn fails the check, and
               each such turn is marked as a failing turn.
    judge      the LLM judge (apps.judging: its prompt, versioning and answer schema) reads
               the transcript with the criterion; "unknown" counts as a fail (the agent did
               not show it met the criterion), no usable verdict is an error. A rate limit
               or an unavailable judge is asked again as the simulation is (simulate's
               `retrying`); the tokens of the answer come back with the result, to be paid
               for like the simulation's.

An error is never a fail: the evaluation leaves it out and counts it apart.
No Django here: the judge's endpoint comes in as an argument.
"""

import re
import unicodedata
from dataclasses import dataclass

from apps.judging.client import JudgeError, ask_judge
from apps.judging.prompt import judge_messages
from apps.rehearsals.simulate import Endpoint, retrying

PASS, FAIL, ERROR = "pass", "fail", "error"
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_DIGIT_SPACE = re.compile(r"(?<=\d) (?=\d)")


@dataclass(frozen=True)
class CheckResult:
    outcome: str
    failing_turns: tuple[int, ...] = ()
    note: str = ""
    tokens_in: int = 0
    tokens_out: int = 0


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    spaced = " ".join(_PUNCTUATION.sub(" ", plain).split())
    return _DIGIT_SPACE.sub("", spaced)


def _contains(haystack: str, needle: str) -> bool:
    needle = normalise(needle)
    return bool(needle) and f" {needle} " in f" {normalise(haystack)} "


def agent_turns(turns: list[dict]) -> list[tuple[int, str]]:
    return [(i, t["text"]) for i, t in enumerate(turns) if t.get("speaker") == "agent"]


def fact_check(turns: list[dict], value: str) -> CheckResult:
    said = any(_contains(text, value) for _, text in agent_turns(turns))
    return CheckResult(PASS if said else FAIL, note="" if said else f"never said “{value}”")


def forbidden_check(turns: list[dict], text: str) -> CheckResult:
    bad = tuple(i for i, said in agent_turns(turns) if _contains(said, text))
    return CheckResult(FAIL if bad else PASS, bad, f"said “{text}”" if bad else "")


def judge_check(turns: list[dict], criterion: str, judge: Endpoint | None) -> CheckResult:
    if judge is None:
        return CheckResult(ERROR, note="No judge endpoint is set (JUDGE_BASE_URL, JUDGE_MODEL).")
    messages = judge_messages(criterion, turns)

    def send(timeout: float):
        return ask_judge(
            base_url=judge.base_url,
            model=judge.model,
            messages=messages,
            api_key=judge.api_key,
            timeout=timeout,
        )

    try:
        answer = retrying(send, judge)
    except JudgeError as error:
        return CheckResult(ERROR, note=f"The judge gave no verdict: {error}"[:500])
    return CheckResult(
        PASS if answer.verdict == "pass" else FAIL,
        note=answer.reasoning[:500],
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
    )


def run_check(check: dict, turns: list[dict], judge: Endpoint | None) -> CheckResult:
    if check["kind"] == "fact":
        return fact_check(turns, check["value"])
    if check["kind"] == "forbidden":
        return forbidden_check(turns, check["text"])
    return judge_check(turns, check["criterion"], judge)


def check_label(check: dict) -> str:
    """How a check reads on a page and in results: "judge: …", "fact: …", "forbidden: …"."""
    kind = check["kind"]
    body = check.get({"judge": "criterion", "fact": "value", "forbidden": "text"}[kind], "")
    return f"{kind}: {body}"[:300]


def overall(outcomes: list[str]) -> str | None:
    """One conversation's result: fail if any check failed, else error if any erred, else
    pass; None without checks (nothing to count)."""
    if not outcomes:
        return None
    if FAIL in outcomes:
        return FAIL
    return ERROR if ERROR in outcomes else PASS
