"""``read_crs``: any CRS layout -> the canonical frame, through the Parquet cache (:mod:`oda_data.crs.cache`).

Every read is one DuckDB query on the cached file; the first read of a large text file is answered from the
file itself (:func:`oda_data.crs.engine.answer`, checking every row) while it is cached in the background.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable

import pandas as pd

from ..themes import theme_label
from . import cache, codes, engine
from .schema import CANONICAL_COLUMNS, RAW_COLUMNS, THEME_COLUMNS
from .errors import CRSLayoutWarning

_WARNINGS = {"CRSLayoutWarning": CRSLayoutWarning, "CRSCodeWarning": codes.CRSCodeWarning}


def _normalise_columns(columns) -> list[str] | None:
    columns = codes.filter_values(columns)
    if columns is None:
        return None
    valid = (*CANONICAL_COLUMNS, *THEME_COLUMNS, *RAW_COLUMNS)
    unknown = [name for name in columns if name not in valid]
    if unknown:
        raise ValueError(f"columns: unknown column(s) {unknown}; expected some of: {', '.join(valid)}")
    return list(dict.fromkeys(columns))


def _normalise_themes(themes) -> list[str] | None:
    themes = codes.filter_values(themes)
    if themes is None:
        return None
    for theme in themes:
        theme_label(theme)  # raises a ValueError listing the valid ids
    return themes


def read_crs(
    source,
    *,
    donors: Iterable[int] | int | None = None,
    recipients: Iterable[int] | int | None = None,
    purpose_codes: Iterable[int] | int | None = None,
    years: Iterable[int] | int | None = None,
    themes: Iterable[str] | str | None = None,
    columns: Iterable[str] | None = None,
    sdmx_rows: str = "auto",
    progress: bool = False,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a CRS file of any real OECD layout into the canonical frame (README: "Real OECD CRS files").

    ``source``: bulk text (plain, gzip or zip; UTF-8 or UTF-16; ``|`` or ``,``), bulk Parquet, Data Explorer
    SDMX-CSV, oda_reader's output or a "by purpose" export. Filters: ``donors``, ``recipients`` and
    ``purpose_codes`` take DAC numeric codes (one in neither the code tables nor the file is a typo: an error),
    ``years``, ``themes`` ids of :data:`oda_data.THEMES` (adds ``theme`` and ``theme_rule``); None means no
    filter, an empty list selects nothing. ``columns``: canonical, theme or raw code columns (default: the
    canonical ones and the raw code columns that hold a value). ``sdmx_rows``: Data Explorer activities
    ("DD"), aggregates ("_T"), or "auto" (DD when present; never both). ``progress``: a bar while the first
    read converts. ``encoding``: for text neither UTF-8 nor UTF-16 (``"latin-1"``).

    Returns pyarrow-backed canonical columns, amounts in USD millions, rows in the source's order. Raises
    FileNotFoundError, :class:`oda_data.crs.CRSFormatError` (naming the file, the line and the problem) or
    ValueError (a bad filter, column or option).
    """
    donor_codes = codes.normalise_filter_codes(donors, "donors")
    recipient_codes = codes.normalise_filter_codes(recipients, "recipients")
    purpose_list = codes.normalise_filter_codes(purpose_codes, "purpose_codes")
    year_list = codes.normalise_filter_years(years)
    theme_list = _normalise_themes(themes)
    wanted = _normalise_columns(columns)

    filters = {name: values for name, values in (
        ("donor_code", donor_codes), ("recipient_code", recipient_codes), ("purpose_code", purpose_list),
        ("year", year_list), ("theme", theme_list)) if values is not None}
    # Codes in neither code table: checked against the file's own codes, which the cache answers.
    unknown = [(name, kind, parameter) for name, kind, parameter in (
        ("donor_code", "donor", "donors"), ("recipient_code", "recipient", "recipients"),
        ("purpose_code", "purpose", "purpose_codes")) if set(filters.get(name, ())) - codes.known_codes(kind)]
    cached, converted = cache.ingest_and_say(source, progress=progress, sdmx_rows=sdmx_rows, encoding=encoding,
                                             answer_first=not unknown)
    tagged = THEME_COLUMNS if theme_list is not None else ()
    if isinstance(cached, cache.FirstRead):
        # A large file's first read: answered from the file, cached in the background.
        output = wanted if wanted is not None else [*CANONICAL_COLUMNS, *tagged]
        table, notes = engine.answer(cached.layout, output, filters)
        for note in notes:
            warnings.warn(note, CRSLayoutWarning, stacklevel=2)
        cached.convert_in_background()
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    manifest = cache.read_metadata(cached)
    if not converted:  # cache hit: repeat the reader's notes
        for category, note in manifest.get("notes", ()):
            warnings.warn(note, _WARNINGS.get(category, CRSLayoutWarning), stacklevel=2)

    output = wanted if wanted is not None else [*CANONICAL_COLUMNS, *manifest.get("raw_columns", ()), *tagged]
    code_filters = {name: values for name, values in filters.items() if name != "theme"}
    for name, kind, parameter in [] if codes.selects_nothing(*filters.values()) else unknown:
        # "present": in the rows the code and year filters keep (themes aside).
        codes.check_filter_codes(filters[name], engine.distinct(cached, name, code_filters), kind, parameter, source)
    return engine.query(cached, output, filters).to_pandas(types_mapper=pd.ArrowDtype)
