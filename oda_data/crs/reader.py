"""``read_crs``: any CRS layout -> the canonical frame, through the Parquet cache.

The first read converts the source (:func:`oda_data.crs.cache.ingest`, with
DuckDB: :mod:`oda_data.crs.engine`); every read is then one DuckDB query on
the cached Parquet file, with the filters and columns pushed down. Rows come
back in the source's order.

The first read of a large bulk text file that DuckDB reads directly
(:func:`oda_data.crs.cache.first_read`) is answered from the file itself by
:func:`oda_data.crs.engine.answer`, which checks every row as a conversion
does; the conversion then runs in the background. The answer is the frame the
cache would give (``tests/test_crs_first_read.py`` compares them).
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable

import pandas as pd

from ..themes import theme_label
from . import cache, codes, engine
from .schema import CANONICAL_COLUMNS, RAW_COLUMNS, THEME_COLUMNS
from .errors import CRSLayoutWarning
from .layouts.data_explorer import check_sdmx_rows

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
    """Read a CRS file of any real OECD layout into the canonical frame.

    The first read converts the source to Parquet in the cache (tagging
    every row's theme); every read is then one DuckDB query on that file.
    A large text file's first read is answered from the file while the
    conversion runs in the background (see the module's docstring).

    Parameters
    ----------
    source : str or os.PathLike
        CRS bulk text (plain, gzipped or zipped, Deflate64 included; UTF-8/
        UTF-8-BOM/UTF-16; ``|`` or ``,``), bulk Parquet (full or reduced), Data
        Explorer SDMX-CSV (``csvfilewithlabels`` or ``csvfile``) or an
        aggregated snake_case "by purpose" export. See :mod:`oda_data.crs.sources`.
    donors, recipients, purpose_codes : int or iterable of int, optional
        DAC numeric codes (Japan = 701, Philippines = 755, 15210). Every
        official code is accepted; a code in neither the code tables nor the
        file is an error (a typo).
    years : int or iterable of int, optional
        Reporting years to keep.
    themes : str or iterable of str, optional
        Ids of :data:`oda_data.THEMES`; keeps rows tagged with one of them and
        adds ``theme`` and ``theme_rule`` (the values :func:`oda_data.tag_themes` gives).
    columns : iterable of str, optional
        Columns to return: canonical, ``theme``/``theme_rule``, or the raw
        code columns; default the canonical ones (plus the raw code columns
        that hold a value, see :mod:`oda_data.crs.codes`).
    sdmx_rows : {"auto", "DD", "_T"}
        Data Explorer files only: activity rows (``DD``) or aggregates (``_T``);
        ``"auto"`` keeps DD when present, else _T (never both).
    progress : bool
        Show a progress bar while the first read converts the source (not
        for a large text file answered from the file: its conversion runs in
        the background, without a bar).
    encoding : str, optional
        The text encoding, when it is neither UTF-8 (with or without BOM) nor
        UTF-16 (e.g. ``"latin-1"``); the error for such a file says so.

    Filters: ``None`` means no filter; an empty list selects nothing, the
    same for every filter.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (see :mod:`oda_data.crs.schema`) with pyarrow-backed
        dtypes; amounts in USD millions; rows in the source's order; a fresh
        RangeIndex.

    Raises
    ------
    FileNotFoundError
        The source does not exist.
    oda_data.crs.CRSFormatError
        The source is not a readable CRS file (the message names the file, the
        line and the problem).
    ValueError
        A bad filter: unknown code, theme, column or year.
    """
    donor_codes = codes.normalise_filter_codes(donors, "donors")
    recipient_codes = codes.normalise_filter_codes(recipients, "recipients")
    purpose_list = codes.normalise_filter_codes(purpose_codes, "purpose_codes")
    year_list = codes.normalise_filter_years(years)
    theme_list = _normalise_themes(themes)
    wanted = _normalise_columns(columns)
    check_sdmx_rows(sdmx_rows)

    filters = {name: values for name, values in (
        ("donor_code", donor_codes), ("recipient_code", recipient_codes), ("purpose_code", purpose_list),
        ("year", year_list), ("theme", theme_list)) if values is not None}
    # Codes in neither code table: checked against the file's own codes, which the cache answers.
    unknown = [(name, kind, parameter) for name, kind, parameter in (
        ("donor_code", "donor", "donors"), ("recipient_code", "recipient", "recipients"),
        ("purpose_code", "purpose", "purpose_codes")) if set(filters.get(name, ())) - codes.known_codes(kind)]
    cached, converted = cache.ingest_and_say(source, progress=progress, sdmx_rows=sdmx_rows, encoding=encoding,
                                             answer_first=not unknown)
    if isinstance(cached, cache.FirstRead):
        # A large file's first read: answered from the file, cached in the background.
        output = wanted if wanted is not None else [*CANONICAL_COLUMNS, *(THEME_COLUMNS if theme_list is not None else ())]
        table, notes = engine.answer(cached.layout, output, filters)
        for note in notes:
            warnings.warn(note, CRSLayoutWarning, stacklevel=2)
        cached.convert_in_background()
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    manifest = cache.read_metadata(cached)
    if not converted:  # cache hit: repeat the reader's notes
        for category, note in manifest.get("notes", ()):
            warnings.warn(note, _WARNINGS.get(category, CRSLayoutWarning), stacklevel=2)

    output = wanted if wanted is not None else [*CANONICAL_COLUMNS, *manifest.get("raw_columns", ()),
                        *(THEME_COLUMNS if theme_list is not None else ())]
    if codes.selects_nothing(*filters.values()):
        return engine.query(cached, output, {"year": []}).to_pandas(types_mapper=pd.ArrowDtype)
    code_filters = {name: values for name, values in filters.items() if name != "theme"}
    for name, kind, parameter in unknown:
        # "present": in the rows the code and year filters keep (themes aside).
        codes.check_filter_codes(filters[name], engine.distinct(cached, name, code_filters), kind, parameter, source)
    table = engine.query(cached, output, filters)
    return table.to_pandas(types_mapper=pd.ArrowDtype)
