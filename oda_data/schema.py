"""Pandera schemas: the White Paper dataset (and, in :mod:`oda_data.crs`, the CRS frame)."""
from __future__ import annotations

import pandera.pandas as pa

from .themes import THEMES

#: What a White Paper record states.
KINDS = {
    "pledge": "a political announcement of future support (amount, people, period); not a DAC commitment",
    "achievement": "what was reported done against a pledge",
    "contribution": "money given to an international organization or fund",
    "disbursement": "money reported as actually spent (disbursed)",
    "output": "people trained, graduates, events held, equipment provided",
    "initiative": "a named programme, framework or project, without a figure",
}
#: Regions used in the dataset (the chapter's own geography).
REGIONS = ("Asia", "Middle East", "Africa", "Latin America", "Global")
CURRENCY_CODES = ("USD", "JPY")
#: What a number of people counts, in the chapter's words: never added across measures.
PEOPLE_MEASURES = ("human resources development", "personnel to be trained", "personnel trained", "graduates")

_text = dict(nullable=True, coerce=True)
_count = dict(nullable=True, coerce=True, checks=pa.Check.ge(0))
_year = dict(nullable=True, coerce=True, checks=pa.Check.in_range(1980, 2030))

WHITE_PAPER_SCHEMA = pa.DataFrameSchema(
    {
        "record_id": pa.Column(str, unique=True, checks=pa.Check.str_matches(r"^WP-[A-Z]{2,4}-\d{2}$")),
        "theme": pa.Column(str, checks=pa.Check.isin(list(THEMES))),
        "region": pa.Column(str, checks=pa.Check.isin(list(REGIONS))),
        "recipients": pa.Column(str, **_text),
        "partner": pa.Column(str, **_text),
        "kind": pa.Column(str, checks=pa.Check.isin(list(KINDS))),
        "amount": pa.Column(float, nullable=True, checks=pa.Check.gt(0)),
        "currency": pa.Column(str, nullable=True, checks=pa.Check.isin(list(CURRENCY_CODES))),
        "approximate": pa.Column(bool),
        "people": pa.Column("Int64", **_count),
        "people_measure": pa.Column(str, nullable=True, coerce=True, checks=pa.Check.isin(list(PEOPLE_MEASURES))),
        "countries": pa.Column("Int64", **_count),
        "period_start": pa.Column("Int64", **_year),
        "period_end": pa.Column("Int64", **_year),
        "year": pa.Column("Int64", **_year),
        "event": pa.Column(str, **_text),
        "equivalent_of": pa.Column(str, **_text),
        "pledge_id": pa.Column(str, **_text),
        "description": pa.Column(str, checks=pa.Check.str_length(min_value=10, max_value=240)),
        "source": pa.Column(str, checks=pa.Check.str_matches(r"^\(3\) [A-D] .+, (para\. \d|photo caption)")),
        # Why a field is empty or what the package reads into the text (not the chapter's claim).
        "note": pa.Column(str, nullable=True, coerce=True, checks=pa.Check.str_length(min_value=10, max_value=400)),
    },
    checks=[
        pa.Check(
            lambda df: df["amount"].isna() == df["currency"].isna(),
            error="an amount needs a currency and a currency needs an amount",
            name="amount_has_currency",
        ),
        pa.Check(
            lambda df: df["period_end"].isna()
            | df["period_start"].isna()
            | (df["period_end"] >= df["period_start"]).fillna(True),
            error="period_end must not be before period_start",
            name="period_ordered",
        ),
        pa.Check(
            lambda df: df["equivalent_of"].isna() | df["equivalent_of"].isin(df["record_id"]),
            error="equivalent_of must name another record_id",
            name="equivalent_exists",
        ),
        pa.Check(
            lambda df: df["pledge_id"].isna()
            | df["pledge_id"].isin(df.loc[df["kind"] == "pledge", "record_id"]),
            error="pledge_id must name a record of kind 'pledge'",
            name="pledge_exists",
        ),
        pa.Check(
            lambda df: df["people"].isna() == df["people_measure"].isna(),
            error="a number of people needs its people_measure and a people_measure needs people",
            name="people_have_a_measure",
        ),
        pa.Check(
            lambda df: ~df["approximate"] | df["amount"].notna() | df["people"].notna(),
            error="approximate is only meaningful for a record with an amount or people",
            name="approximate_needs_figure",
        ),
    ],
    strict=True,
    ordered=True,
    name="white_paper",
)
