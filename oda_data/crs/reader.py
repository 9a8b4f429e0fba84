"""``read_crs``: any CRS layout -> the canonical frame, through the Parquet cache."""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..themes import theme_label
from . import cache, codes
from .layouts import SDMX_ROW_CHOICES, CRSLayoutWarning
from .schema import CANONICAL_COLUMNS, TEXT_COLUMNS
from .themes import theme_arrays

THEME_COLUMNS = ("theme", "theme_rule")


def _normalise_years(years) -> list[int] | None:
    if years is None:
        return None
    if isinstance(years, (int, str)):
        years = [years]
    result = []
    for year in years:
        if isinstance(year, bool) or not (isinstance(year, int) or str(year).strip().isdigit()):
            raise ValueError(f"years: {year!r} is not a year; years= takes integers such as 2018")
        year = int(year)
        if not 1960 <= year <= 2100:
            raise ValueError(f"years: {year} is outside 1960-2100")
        result.append(year)
    return result


def _normalise_columns(columns) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    valid = (*CANONICAL_COLUMNS, *THEME_COLUMNS)
    unknown = [name for name in columns if name not in valid]
    if unknown:
        raise ValueError(f"columns: unknown column(s) {unknown}; expected some of: {', '.join(valid)}")
    return list(dict.fromkeys(columns))


def _normalise_themes(themes) -> list[str] | None:
    if themes is None:
        return None
    if isinstance(themes, str):
        themes = [themes]
    themes = list(themes)
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
) -> pd.DataFrame:
    """Read a CRS file of any real OECD layout into the canonical frame.

    The first read converts the source to Parquet in the cache
    (:func:`oda_data.crs.cache.ingest`); every read then scans that Parquet
    file with the filters and the column choice pushed down.

    Parameters
    ----------
    source : str or os.PathLike
        CRS bulk text (plain or zipped, Deflate64 included; UTF-8/UTF-8-BOM/
        UTF-16; ``|`` or ``,``), bulk Parquet (full or reduced), Data Explorer
        SDMX-CSV (``csvfilewithlabels`` or ``csvfile``) or an aggregated
        snake_case "by purpose" export. See :mod:`oda_data.crs.layouts`.
    donors, recipients, purpose_codes : int or iterable of int, optional
        DAC numeric codes (Japan = 701, Philippines = 755, 15210). A code that
        is neither in the package's code table nor in the file is an error.
    years : int or iterable of int, optional
        Reporting years to keep.
    themes : str or iterable of str, optional
        Ids of :data:`oda_data.THEMES`; keeps rows tagged with one of them by
        :func:`oda_data.tag_themes` and adds ``theme`` and ``theme_rule``.
    columns : iterable of str, optional
        Canonical columns to return (plus ``theme``/``theme_rule``); default all.
    sdmx_rows : {"auto", "DD", "_T"}
        Data Explorer files only: activity rows (``DD``) or aggregates (``_T``);
        ``"auto"`` keeps DD when present, else _T (never both).
    progress : bool
        Show a progress bar while the first read converts the source.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (see :mod:`oda_data.crs.schema`) with pyarrow-backed
        dtypes; amounts in USD millions.

    Raises
    ------
    FileNotFoundError
        The source does not exist.
    oda_data.crs.CRSFormatError
        The source is not a readable CRS file (message names file and problem).
    ValueError
        A bad filter: unknown code, theme, column or year.
    """
    donor_codes = codes.normalise_filter_codes(donors, "donors")
    recipient_codes = codes.normalise_filter_codes(recipients, "recipients")
    purpose_list = codes.normalise_filter_codes(purpose_codes, "purpose_codes")
    year_list = _normalise_years(years)
    theme_list = _normalise_themes(themes)
    wanted = _normalise_columns(columns)
    if sdmx_rows not in SDMX_ROW_CHOICES:
        raise ValueError(f"sdmx_rows={sdmx_rows!r}; expected one of: {', '.join(SDMX_ROW_CHOICES)}")

    conversions = cache.CACHE_STATS["conversions"]
    cached = cache.ingest(source, progress=progress, sdmx_rows=sdmx_rows)
    if cache.CACHE_STATS["conversions"] == conversions:  # cache hit: repeat the reader's notes
        for note in json.loads(cache.read_metadata(cached).get("notes", "[]")):
            warnings.warn(note, CRSLayoutWarning, stacklevel=2)

    filters = []
    for name, values in (("donor_code", donor_codes), ("recipient_code", recipient_codes),
                         ("purpose_code", purpose_list), ("year", year_list)):
        if values is not None:
            filters.append(ds.field(name).isin(pa.array(values, pa.int32())))
    expression = None
    for item in filters:
        expression = item if expression is None else expression & item

    output = wanted or [*CANONICAL_COLUMNS, *(THEME_COLUMNS if theme_list else ())]
    need_themes = bool(theme_list) or any(name in THEME_COLUMNS for name in output)
    scan = [name for name in output if name not in THEME_COLUMNS]
    if need_themes:
        scan += ["purpose_code", *TEXT_COLUMNS]
    check = {"donor_code": donor_codes, "recipient_code": recipient_codes, "purpose_code": purpose_list}
    scan += [name for name, values in check.items() if values]
    scan = list(dict.fromkeys(scan))

    table = ds.dataset(cached, format="parquet").to_table(columns=scan, filter=expression)
    for (name, values), kind, parameter in zip(
        check.items(), ("donor", "recipient", "purpose"), ("donors", "recipients", "purpose_codes")
    ):
        if values and set(values) - codes.known_codes(kind):
            present = pc.unique(table[name]).to_pylist()
            codes.check_filter_codes(values, present, kind, parameter, source)

    if need_themes:
        theme, rule = theme_arrays(table["purpose_code"], [table[name] for name in TEXT_COLUMNS])
        table = table.append_column("theme", theme).append_column("theme_rule", rule)
        if theme_list:
            table = table.filter(pc.fill_null(pc.is_in(table["theme"], pa.array(theme_list)), False))
    frame = table.select(output).to_pandas(types_mapper=pd.ArrowDtype)
    return frame
