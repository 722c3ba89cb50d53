"""The names and codes statistical agencies give countries where they differ from ISO 3166 and
from the gazetteer's names, for tables joined to outlines (``boundaries.find_country``): each
folded (``places.text.fold``) to its ISO 3166-1 alpha-2 code. Public facts, written down from
the agencies' own published lists:

- World Bank: the country names of the World Development Indicators and its API
  (data.worldbank.org, "Country and Lending Groups"), past and present ("Korea, Rep.",
  "Egypt, Arab Rep.", "Hong Kong SAR, China", "Macedonia, FYR"), as Gapminder's tables reuse
  them ("Hong Kong, China"), and its own codes where it has no ISO one (XKX and KSV: Kosovo).
- United Nations: the M49 standard's country or area names (unstats.un.org/unsd/methodology/m49),
  such as "Bolivia (Plurinational State of)", "China, Hong Kong Special Administrative Region".
- IMF: the World Economic Outlook's and International Financial Statistics' names ("Korea",
  "Lao P.D.R.", "Taiwan Province of China", "China, P.R.: Hong Kong", "Congo, Dem. Rep. of the");
  IFS's "Name, Republic of" forms are read by ``bare_name``.
- Eurostat: its two-letter country codes where they are not ISO's (EL for Greece, UK for the
  United Kingdom; "Glossary:Country codes" in Statistics Explained).

``AGGREGATES``: the groups of countries the same tables carry as rows (the World Bank's regions and
income groups with their codes, Eurostat's EU and euro-area aggregates, the UN's continents): a
row of those is named as a group, not an unknown place.
"""

from __future__ import annotations

import re

from mapsrv.places.text import fold

__all__ = ["AGENCY_NAMES", "AGGREGATES", "bare_name"]

AGENCY_NAMES: dict[str, str] = {
    # World Bank (WDI and its API), and Gapminder's copies of its names
    "bahamas the": "BS", "gambia the": "GM", "congo dem rep": "CD", "congo rep": "CG",
    "egypt arab rep": "EG", "iran islamic rep": "IR", "korea rep": "KR", "korea dem rep": "KP",
    "korea dem peoples rep": "KP", "lao pdr": "LA", "kyrgyz republic": "KG", "slovak republic": "SK",
    "micronesia fed sts": "FM", "venezuela rb": "VE", "yemen rep": "YE", "hong kong sar china": "HK",
    "hong kong china": "HK", "macao sar china": "MO", "macao china": "MO", "taiwan china": "TW",
    "west bank and gaza": "PS", "macedonia fyr": "MK", "st kitts and nevis": "KN", "st lucia": "LC",
    "st vincent and the grenadines": "VC", "st martin french part": "MF", "sint maarten dutch part": "SX",
    "virgin islands u s": "VI", "british virgin islands": "VG", "turkiye": "TR", "cote divoire": "CI",
    "brunei darussalam": "BN", "cabo verde": "CV", "timor leste": "TL", "russian federation": "RU",
    "syrian arab republic": "SY", "faeroe islands": "FO", "curacao": "CW", "xkx": "XK", "ksv": "XK",
    # United Nations (M49)
    "bolivia plurinational state of": "BO", "iran islamic republic of": "IR", "republic of korea": "KR",
    "democratic peoples republic of korea": "KP", "china hong kong sar": "HK", "china macao sar": "MO",
    "china hong kong special administrative region": "HK", "china macao special administrative region": "MO",
    "china taiwan province of china": "TW", "united republic of tanzania": "TZ",
    "venezuela bolivarian republic of": "VE", "lao peoples democratic republic": "LA",
    "micronesia federated states of": "FM", "republic of moldova": "MD", "state of palestine": "PS",
    "united kingdom of great britain and northern ireland": "GB", "netherlands kingdom of the": "NL",
    "democratic republic of the congo": "CD", "united states of america": "US", "holy see": "VA",
    "saint martin french part": "MF", "falkland islands malvinas": "FK", "wallis and futuna islands": "WF",
    "united states virgin islands": "VI", "kosovo under unsc res 1244": "XK", "viet nam": "VN",
    "bonaire sint eustatius and saba": "BQ", "korea republic of": "KR", "korea dem peoples rep of": "KP",
    "tanzania united republic of": "TZ", "moldova republic of": "MD", "bolivia plurinational state": "BO",
    "palestine": "PS", "palestinian territories": "PS", "occupied palestinian territory": "PS",
    # IMF (WEO and IFS)
    "korea": "KR", "lao p d r": "LA", "hong kong sar": "HK", "macao sar": "MO",
    "taiwan province of china": "TW",
    "china p r hong kong": "HK", "china p r macao": "MO", "china p r mainland": "CN", "china p r": "CN",
    "islamic republic of iran": "IR", "congo dem rep of the": "CD", "congo democratic republic of the": "CD",
    "republic of congo": "CG", "congo republic of": "CG", "the gambia": "GM", "the bahamas": "BS",
    "micronesia fed states of": "FM", "timor leste dem rep of": "TL",
    "venezuela republica bolivariana de": "VE",
    "sao tome and principe dem rep of": "ST", "ethiopia the federal democratic republic of": "ET",
    "korea democratic peoples republic of": "KP", "korea democratic peoples rep of": "KP",
    "lao peoples democratic republic the": "LA",
    # Eurostat's codes that are not ISO's
    "el": "GR", "uk": "GB",
    # other spellings in common use
    "east timor": "TL", "cape verde": "CV", "state of palestine the": "PS", "swaziland": "SZ",
    "st helena": "SH", "aruba kingdom of the netherlands": "AW", "curacao kingdom of the netherlands": "CW",
    "sint maarten kingdom of the netherlands": "SX",
    "northern cyprus": "",  # "": Natural Earth's own, with no ISO code
}  # fmt: skip

_GROUPS = (
    # World Bank regions, income and lending groups, and their codes
    "World", "WLD", "Arab World", "ARB", "East Asia & Pacific", "EAS", "EAP", "TEA",
    "Europe & Central Asia", "ECS", "ECA", "TEC", "Latin America & Caribbean", "LCN", "LAC", "TLA",
    "Middle East & North Africa", "MEA", "MNA", "TMN", "North America", "NAC", "South Asia", "SAS",
    "TSA", "Sub-Saharan Africa", "SSF", "SSA", "TSS", "Africa Eastern and Southern", "AFE",
    "Africa Western and Central", "AFW", "Euro area", "EMU", "European Union", "EUU",
    "Central Europe and the Baltics", "CEB", "High income", "HIC", "Low income", "LIC",
    "Lower middle income", "LMC", "Middle income", "MIC", "Upper middle income", "UMC",
    "Low & middle income", "LMY", "OECD members", "OED", "Fragile and conflict affected situations",
    "FCS", "Heavily indebted poor countries (HIPC)", "HPC", "Least developed countries: UN classification",
    "LDC", "IDA only", "IDX", "IDA blend", "IDB", "IDA total", "IDA", "IBRD only", "IBD",
    "IDA & IBRD total", "IBT", "Small states", "SST", "Other small states", "OSS",
    "Caribbean small states", "CSS", "Pacific island small states", "PSS", "Early-demographic dividend",
    "EAR", "Late-demographic dividend", "LTE", "Pre-demographic dividend", "PRE",
    "Post-demographic dividend", "PST", "Not classified", "INX",
    # Eurostat aggregates
    "EU27_2020", "EU28", "EU27_2007", "EU15", "EA", "EA19", "EA20", "EEA", "EFTA",
    "European Union - 27 countries (from 2020)", "Euro area - 20 countries (from 2023)",
    # the UN's continents and the IMF's groups
    "Africa", "Asia", "Europe", "Oceania", "Americas", "Northern America", "Latin America and the Caribbean",
    "Advanced economies", "Emerging market and developing economies", "G7", "G20",
)  # fmt: skip
AGGREGATES: frozenset[str] = frozenset(fold(name) for name in _GROUPS)

# An IFS or M49 name's state form after a comma or in parentheses: "Serbia, Republic of",
# "Bahrain, Kingdom of", "Netherlands, The", "Bolivia (Plurinational State of)". Never a
# "Democratic" one: "Congo, Democratic Republic of the" is not "Congo" (the table has those).
_FORM = re.compile(
    r"\s*(?:,\s*|\()(?:the\b\s*)?(?:(?:islamic|arab|federal|federated|federative|plurinational|bolivarian|united|"
    r"oriental|hashemite|socialist|cooperative|co-operative|independent|grand|sovereign)\s+)*"
    r"(?:republic|kingdom|principality|state|states|duchy|sultanate|commonwealth|federation|union|emirate)?"
    r"(?:\s+of(?:\s+the)?)?\s*\)?\s*$",
    re.IGNORECASE,
)


def bare_name(text: str) -> str | None:
    """``text`` without its state form ("Serbia, Republic of": "Serbia"), or None when it has none."""
    found = _FORM.search(text)
    if found is None or found.start() == 0 or not found.group(0).strip(" ,()"):
        return None
    return text[: found.start()].strip() or None
