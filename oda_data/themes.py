"""The chapter's security and stability themes: the one list of theme ids of the dataset, the notebook parameters
and the CRS theme tagging."""
from __future__ import annotations

from types import MappingProxyType

#: Ordered mapping of theme id -> human label, in the order of the chapter.
THEMES = MappingProxyType(
    {
        "police_capacity": "Police capacity building",
        "counter_terrorism": "Counter-terrorism",
        "transnational_organized_crime": "Transnational organized crime",
        "drug_trafficking": "Drug trafficking",
        "trafficking_in_persons": "Trafficking in persons",
        "money_laundering": "Money laundering and terrorist financing",
        "maritime_security": "Maritime security and piracy",
        "outer_space": "Outer space",
        "cyberspace": "Cyberspace",
    }
)


def theme_label(theme_id: str) -> str:
    """Return the label of ``theme_id``; raise a ValueError listing the valid ids."""
    try:
        return THEMES[theme_id]
    except KeyError:
        raise ValueError(f"unknown theme {theme_id!r}; expected one of: {', '.join(THEMES)}") from None
