"""A caller's country from the start of their E.164 number, with Google's libphonenumber data
(the `phonenumbers` package).

The segments query (apps/results/segments.py) does not send every caller's number to Python:
it groups units in SQL by `PREFIX_SQL`, a short prefix ("+1" and the area code for North
America, where one country code covers some twenty countries; "+" and three digits elsewhere,
enough for every country code), and only those few prefixes are mapped here. A country code
shared by several regions (+44: the UK, Guernsey, Jersey, the Isle of Man; +7: Russia and
Kazakhstan) goes to the region whose leading digits match the prefix, else to the code's main
country. Numbers that are not E.164 (no "+", letters, too short or long), unassigned codes and
non-geographic ones (+800) are "Unknown".
"""

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.geocoder import country_name_for_number

UNKNOWN = ""
# '' for numbers that are not E.164; NANP numbers need all ten digits and a valid area code
# start (2-9) for their area code to mean anything.
PREFIX_SQL = (
    r"CASE WHEN c.caller ~ '^\+1[2-9][0-9]{9}$' THEN left(c.caller, 5) "
    r"WHEN c.caller ~ '^\+[2-9][0-9]{6,14}$' THEN left(c.caller, 4) ELSE '' END"
)
NANP_FILLER = "2345678"  # a subscriber number valid under every assigned area code


@lru_cache(maxsize=4096)
def region_of(prefix: str) -> str:
    """ISO region code ("US", "GB") of a PREFIX_SQL prefix, or UNKNOWN."""
    if not re.fullmatch(r"\+[1-9][0-9]{1,3}", prefix or ""):
        return UNKNOWN
    if prefix.startswith("+1"):
        number = phonenumbers.parse(prefix + NANP_FILLER)
        return phonenumbers.region_code_for_number(number) or UNKNOWN
    digits = prefix[1:]
    for size in (1, 2, 3):
        regions = phonenumbers.region_codes_for_country_code(int(digits[:size]))
        if regions:
            return _region_among(regions, digits[size:])
    return UNKNOWN


def _region_among(regions: tuple[str, ...], rest: str) -> str:
    if regions == ("001",):  # non-geographic: international freephone, satellites
        return UNKNOWN
    for region in regions:
        leading = PhoneMetadata.metadata_for_region(region).leading_digits
        if rest and leading and re.match(leading, rest):
            return region
    return regions[0]  # the main country is listed first


@lru_cache(maxsize=1)
def prefix_regions_sql() -> str:
    """Every prefix PREFIX_SQL can give, with its region, as an SQL table
    `(VALUES ('+1212', 'US'), ...) AS prefix_region(prefix, region)`, for a query that must
    name the country in SQL (a percentile cannot be merged across prefixes afterwards, as a
    sum can). About 1,300 rows, from the digits and phonenumbers' ISO codes only."""
    digits = "0123456789"
    starts = [f"+1{a}{b}{c}" for a in "23456789" for b in digits for c in digits]
    starts += [f"+{a}{b}{c}" for a in "23456789" for b in digits for c in digits]
    rows = [(p, region) for p in starts if (region := region_of(p)) != UNKNOWN]
    if not all(re.fullmatch(r"\+[0-9]{3,4}", p) and re.fullmatch(r"[A-Z]{2}", r) for p, r in rows):
        raise ValueError("a prefix or region that is not plain digits or an ISO code")
    values = ", ".join(f"('{p}', '{r}')" for p, r in rows)
    return f"(VALUES {values}) AS prefix_region(prefix, region)"


@lru_cache(maxsize=512)
def country_name(region: str) -> str:
    """ "United Kingdom" for "GB"; "Unknown" for UNKNOWN."""
    if region == UNKNOWN:
        return "Unknown"
    example = phonenumbers.example_number(region)
    return (country_name_for_number(example, "en") if example else "") or region
