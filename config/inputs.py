"""What every input must be before it reaches the database: pure checks, no Django.

PostgreSQL refuses NUL (\\x00) in text and jsonb, and NaN/Infinity in jsonb; a JSON value
nested thousands deep makes Python's parser raise RecursionError. Each of those was a 500.
These helpers find the first offending spot so that the caller can answer a 400 naming it.
"""

import json
import math
import re

MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 5 * 1024 * 1024
NUL = "\x00"
# A lone UTF-16 surrogate (JSON's "\ud800") is no character: UTF-8 cannot encode it, so
# PostgreSQL, hashing and every encoder refuse it.
SURROGATE = re.compile("[\ud800-\udfff]")


class JSONRefused(ValueError):
    """A body that is not JSON we accept; str() is a sentence for the sender."""


def _refuse_constant(name: str):
    raise JSONRefused(f"{name} is not a number JSON allows; send a finite number.")


def loads_bounded(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH):
    """json.loads that refuses NaN/Infinity, NUL anywhere and nesting deeper than max_depth."""
    if len(body) > MAX_JSON_BYTES:
        raise JSONRefused(f"The body is over {MAX_JSON_BYTES // (1024 * 1024)} MB.")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise JSONRefused(_too_deep(max_depth)) from None
    except JSONRefused:
        raise
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
        raise JSONRefused("The body is not valid JSON.") from None
    problem = json_problem(data, max_depth=max_depth)
    if problem:
        raise JSONRefused(problem)
    return data


def _too_deep(max_depth: int) -> str:
    return f"The JSON is nested more than {max_depth} levels deep; send a flatter object."


def json_problem(value, *, max_depth: int = MAX_JSON_DEPTH, where: str = "") -> str | None:
    """A sentence naming the first NUL, non-finite number or too-deep spot in value, or None.

    Walks iteratively, so that no depth of nesting can exhaust Python's stack.
    """
    stack = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > max_depth:
            return _too_deep(max_depth)
        if isinstance(item, str):
            if NUL in item:
                return f"{_at(path)}contains a NUL character (\\u0000); remove it."
            if SURROGATE.search(item):
                return f"{_at(path)}contains a lone surrogate (\\ud800-\\udfff), not text."
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{_at(path)}is not a finite number; send a finite number."
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return f"A key {_at(path, 'in ')}contains a NUL character (\\u0000)."
                if isinstance(key, str) and SURROGATE.search(key):
                    return f"A key {_at(path, 'in ')}contains a lone surrogate, not text."
                stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))
        elif isinstance(item, list | tuple):
            for index, child in enumerate(item):
                stack.append((child, f"{path}[{index}]", depth + 1))
    return None


def _at(path: str, prefix: str = "") -> str:
    if path:
        return f"{prefix}“{path}” "
    return "" if prefix else "The value "


def has_nul(*texts) -> bool:
    """Text that cannot be stored: a NUL, or a lone surrogate."""
    return any(isinstance(t, str) and (NUL in t or SURROGATE.search(t)) for t in texts)


WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def whole_number(text, *, signed: bool = False) -> int | None:
    """The int a person or a form wrote, or None. ASCII digits only, at most 18 of them: str's
    isdigit() also says yes to "²", which int() then refuses, and to 5,000 digits, which int()
    refuses too (and no database column would hold)."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not WHOLE_NUMBER.fullmatch(text) or (text.startswith("-") and not signed):
        return None
    return int(text)
