"""Word-level prompt diffs that people can read, and the warnings an editor should show.

difflib's SequenceMatcher over words and whitespace runs: a change of one word shows as one
struck word and one new word, not as two changed lines.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

TOKENS = re.compile(r"\s+|[^\s]+")
PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}")
SEPARATE_CHANGES_WARNING = 3  # "test one change at a time" from this many separate edits


@dataclass(frozen=True)
class Segment:
    kind: str  # "same", "added" or "removed"
    text: str


@dataclass(frozen=True)
class PromptDiff:
    segments: tuple[Segment, ...]
    changes: int  # separate places that changed
    missing_placeholders: tuple[str, ...]

    @property
    def unchanged(self) -> bool:
        return self.changes == 0

    @property
    def warnings(self) -> list[str]:
        notes = []
        if self.missing_placeholders:
            names = ", ".join(self.missing_placeholders)
            notes.append(
                f"{names} is in the control but not here: the agent will not get that "
                "information in this variant."
            )
        if self.changes >= SEPARATE_CHANGES_WARNING:
            notes.append(
                f"This changes {self.changes} separate places. Test one change at a time if "
                "you want to know which one made the difference."
            )
        return notes


def prompt_diff(before: str, after: str) -> PromptDiff:
    old, new = TOKENS.findall(before), TOKENS.findall(after)
    segments, changes = [], 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            segments.append(Segment("same", "".join(old[i1:i2])))
            continue
        changes += 1
        if i2 > i1:
            segments.append(Segment("removed", "".join(old[i1:i2])))
        if j2 > j1:
            segments.append(Segment("added", "".join(new[j1:j2])))
    return PromptDiff(tuple(segments), changes, missing_placeholders(before, after))


def missing_placeholders(before: str, after: str) -> tuple[str, ...]:
    normal = lambda p: re.sub(r"\s+", "", p)  # noqa: E731
    present = {normal(p) for p in PLACEHOLDER.findall(after)}
    wanted = dict.fromkeys(normal(p) for p in PLACEHOLDER.findall(before))
    return tuple(p for p in wanted if p not in present)
