"""``read_crs``: any CRS layout -> the canonical frame, through the Parquet cache.

A read opens the cached Parquet file and its companion (see
:mod:`oda_data.crs.cache`) and, for each run of the source:

1. keeps the row groups whose min/max statistics can hold the codes, years
   and themes asked for (the cache is sorted for this: other donors' row
   groups, and untagged row groups for a ``themes=`` query, are skipped
   without being read);
2. reads the filter columns of those row groups, computes the row mask, and
   reads the other columns only of the row groups with matching rows;
3. puts the rows back in source order (``source_row``).

The rows of the result are therefore always in the order the source's reader
yields them (for bulk files, the order of the lines of the OECD file),
whatever the filters.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..themes import theme_label
from . import cache, codes
from .layouts import CRSLayoutWarning, check_sdmx_rows
from .schema import CANONICAL_COLUMNS

THEME_COLUMNS = ("theme", "theme_rule")


def _normalise_columns(columns) -> list[str] | None:
    columns = codes.filter_values(columns)
    if columns is None:
        return None
    valid = (*CANONICAL_COLUMNS, *THEME_COLUMNS)
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
) -> pd.DataFrame:
    """Read a CRS file of any real OECD layout into the canonical frame.

    The first read converts the source to Parquet in the cache
    (:func:`oda_data.crs.cache.ingest`), tagging every row's theme once;
    every read then reads only the row groups of that cache that can hold
    the codes, years and themes asked for, and only the columns asked for.

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
        :func:`oda_data.tag_themes` and adds ``theme`` and ``theme_rule``
        (stored in the cache: the same values ``tag_themes`` gives).
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
        dtypes; amounts in USD millions. Rows keep the source's order (bulk
        and summary files: the order of their lines; Data Explorer files: the
        order of the activities after pivoting), whatever the filters; the
        index is a fresh RangeIndex.

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
    year_list = codes.normalise_filter_years(years)
    theme_list = _normalise_themes(themes)
    wanted = _normalise_columns(columns)
    check_sdmx_rows(sdmx_rows)

    conversions = cache.CACHE_STATS["conversions"]
    cached = cache.ingest(source, progress=progress, sdmx_rows=sdmx_rows)
    if cache.CACHE_STATS["conversions"] == conversions:  # cache hit: repeat the reader's notes
        for note in json.loads(cache.read_metadata(cached).get("notes", "[]")):
            warnings.warn(note, CRSLayoutWarning, stacklevel=2)

    filters = {
        name: values
        for name, values in (("donor_code", donor_codes), ("recipient_code", recipient_codes),
                             ("purpose_code", purpose_list), ("year", year_list))
        if values is not None
    }
    output = wanted or [*CANONICAL_COLUMNS, *(THEME_COLUMNS if theme_list else ())]
    check = {"donor_code": donor_codes, "recipient_code": recipient_codes, "purpose_code": purpose_list}
    with CachedCRS(cached) as crs:
        for (name, values), kind, parameter in zip(
            check.items(), ("donor", "recipient", "purpose"), ("donors", "recipients", "purpose_codes")
        ):
            if values and set(values) - codes.known_codes(kind):
                # "present": in the rows the code and year filters keep (themes aside).
                codes.check_filter_codes(values, crs.present_codes(name, filters), kind, parameter, source)
        table = crs.read(
            filters,
            theme_list or None,
            [name for name in output if name not in THEME_COLUMNS],
            [name for name in output if name in THEME_COLUMNS],
        )
    frame = table.select(output).to_pandas(types_mapper=pd.ArrowDtype)
    return frame


class CachedCRS:
    """A cached conversion opened for reading: row-group pruning and source order.

    Parameters
    ----------
    cached : path
        A cached Parquet file from :func:`oda_data.crs.cache.ingest`; its
        companion (``source_row``, ``theme``, ``theme_rule``) must sit beside it.

    Raises
    ------
    RuntimeError
        The two files do not match row group for row group (damaged cache).
    """

    def __init__(self, cached):
        self.path = Path(cached)
        self._main = pq.ParquetFile(self.path)
        self._companion = pq.ParquetFile(cache.companion_path(self.path))
        main, companion = self._main.metadata, self._companion.metadata
        sizes = [main.row_group(i).num_rows for i in range(main.num_row_groups)]
        if sizes != [companion.row_group(i).num_rows for i in range(companion.num_row_groups)]:
            self.close()
            raise RuntimeError(
                f"{self.path}: the cached file and its companion {cache.companion_path(self.path).name} "
                "do not match row group for row group; run `oda-data cache clear` and read again"
            )
        self._sizes = sizes
        self._main_index = {name: i for i, name in enumerate(self._main.schema_arrow.names)}
        self._companion_index = {name: i for i, name in enumerate(self._companion.schema_arrow.names)}
        per_run = cache.row_groups_per_run(main)
        if sum(per_run) != len(sizes):  # an empty source (one empty row group): one run
            per_run = [len(sizes)]
        bounds = np.cumsum([0, *per_run])
        self._runs = [range(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]

    # ------------------------------------------------------------ context
    def close(self) -> None:
        for handle in (getattr(self, "_main", None), getattr(self, "_companion", None)):
            if handle is not None:
                handle.close()

    def __enter__(self) -> "CachedCRS":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ pruning
    @staticmethod
    def _may_hold(metadata, column: int, values) -> bool:
        """Whether the column chunk's statistics allow a row with one of ``values``."""
        chunk = metadata.column(column)
        stats = chunk.statistics
        if stats is None:
            return True
        if stats.has_null_count and stats.null_count == metadata.num_rows:
            return False  # only nulls: no value can match
        if not stats.has_min_max:
            return True
        low, high = stats.min, stats.max
        return any(low <= value <= high for value in values)

    def _row_group_may_match(self, group: int, filters: dict, themes) -> bool:
        if self._sizes[group] == 0:
            return False
        if filters:
            metadata = self._main.metadata.row_group(group)
            for name, values in filters.items():
                if not self._may_hold(metadata, self._main_index[name], values):
                    return False
        if themes:
            metadata = self._companion.metadata.row_group(group)
            if not self._may_hold(metadata, self._companion_index["theme"], themes):
                return False
        return True

    # ------------------------------------------------------------ reading
    def _mask(self, groups: list[int], filters: dict, themes) -> np.ndarray:
        """Boolean mask of the rows of ``groups`` that pass every filter."""
        mask = np.ones(sum(self._sizes[g] for g in groups), dtype=bool)
        if filters:
            probe = self._main.read_row_groups(groups, columns=list(filters))
            for name, values in filters.items():
                keep = pc.is_in(probe[name], value_set=pa.array(values, pa.int32()))
                mask &= pc.fill_null(keep, False).to_numpy(zero_copy_only=False)
        if themes:
            theme = self._companion.read_row_groups(groups, columns=["theme"])["theme"]
            keep = pc.is_in(theme, value_set=pa.array(themes, pa.string()))
            mask &= pc.fill_null(keep, False).to_numpy(zero_copy_only=False)
        return mask

    def _read_run(self, groups: list[int], filters: dict, themes, columns: list[str],
                  theme_columns: list[str]) -> pa.Table:
        mask = None
        if filters or themes:
            mask = self._mask(groups, filters, themes)
            # Late materialisation: the wide columns only of row groups with a matching row.
            ends = np.cumsum([self._sizes[g] for g in groups])
            starts = ends - [self._sizes[g] for g in groups]
            running = np.concatenate([[0], np.cumsum(mask)])
            hits = running[ends] - running[starts]
            if not hits.any():
                return None
            if not hits.all():
                mask = np.concatenate([mask[a:b] for a, b, n in zip(starts, ends, hits) if n])
                groups = [g for g, n in zip(groups, hits) if n]
        extra = self._companion.read_row_groups(groups, columns=["source_row", *theme_columns])
        table = self._main.read_row_groups(groups, columns=columns) if columns else None
        for name in extra.column_names:
            table = extra.select([name]) if table is None else table.append_column(extra.schema.field(name), extra[name])
        if mask is not None and not mask.all():
            table = table.filter(pa.array(mask))
        # Back to source order: within a run, rows were sorted by donor, theme and year.
        order = pc.sort_indices(table["source_row"])
        return table.take(order)

    def read(self, filters: dict[str, list[int]], themes: list[str] | None, columns: list[str],
             theme_columns: list[str]) -> pa.Table:
        """Rows passing ``filters`` (column -> codes) and ``themes``, in source order.

        Returns ``columns`` of the canonical file then ``theme_columns`` of the
        companion, plus ``source_row``.
        """
        pieces = []
        for run in self._runs:
            groups = [g for g in run if self._row_group_may_match(g, filters, themes)]
            if groups:
                piece = self._read_run(groups, filters, themes, columns, theme_columns)
                if piece is not None and piece.num_rows:
                    pieces.append(piece)
        if pieces:
            return pa.concat_tables(pieces)
        fields = [self._main.schema_arrow.field(name) for name in columns]
        fields += [self._companion.schema_arrow.field(name) for name in ("source_row", *theme_columns)]
        return pa.schema(fields).empty_table()

    def present_codes(self, name: str, filters: dict[str, list[int]]) -> list[int]:
        """Distinct values of ``name`` in the rows that pass ``filters`` (for the unknown-code check)."""
        values = set()
        for run in self._runs:
            groups = [g for g in run if self._row_group_may_match(g, filters, None)]
            if groups:
                mask = self._mask(groups, filters, None)
                column = self._main.read_row_groups(groups, columns=[name])[name]
                values.update(pc.unique(column.filter(pa.array(mask))).to_pylist())
        return sorted(value for value in values if value is not None)
