"""DuckDB: convert a CRS source into the Parquet cache (one ``COPY`` of its layout's checked ``SELECT``, themes
tagged, source order), query the cache, or answer a first read from the text itself (benchmarks/README.md)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from .opening import Source, literal_path
from .schema import CACHE_ARROW_SCHEMA, RAW_COLUMNS, THEME_COLUMNS
from .sql import connect, identifier, literal
from .themes import tagged_sql

#: Rows per Parquet row group of the cache (DuckDB's default).
ROW_GROUP_SIZE = 122_880
#: DuckDB's memory during a conversion (a lower limit spills more and is slower).
MEMORY_LIMIT = "900MB"
_local = threading.local()
_UNTAGGED = [name for name in CACHE_ARROW_SCHEMA.names if name not in THEME_COLUMNS]


def connection():
    """This thread's in-memory DuckDB connection for queries (connections are not shared across threads)."""
    if getattr(_local, "connection", None) is None:
        _local.connection = connect()
    return _local.connection


class Conversion(NamedTuple):
    """What :func:`convert` wrote: rows, the notes to repeat on cache hits, the raw code columns that hold values."""

    rows: int
    notes: list[str]
    raw_columns: list[str]


def convert(source: Source, target: Path, *, scratch: Callable[[str], Path], on_read=None,
            sdmx_rows: str = "auto", spill: Path | None = None) -> Conversion:
    """Convert ``source`` into ``target`` (``scratch(suffix)``: a temporary path; spilling to ``spill``)."""
    config = {"memory_limit": MEMORY_LIMIT, **({"temp_directory": str(spill)} if spill else {})}
    with connect(**config) as cursor:
        def run(inner: str) -> int:
            cursor.execute(f"COPY ({tagged_sql(inner, _UNTAGGED)}) TO {literal(target)} (FORMAT parquet, "
                           f"COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE}, USE_TMP_FILE false)")
            return int(cursor.fetchone()[0])

        rows, notes = source.layout.read(source, cursor, run, scratch=scratch, on_read=on_read,
                                         options={"sdmx_rows": sdmx_rows})
        counts = cursor.execute("SELECT " + ", ".join(f"count({name})" for name in RAW_COLUMNS)
                                + f" FROM read_parquet({literal(target)})").fetchone()
    return Conversion(rows, notes, [name for name, count in zip(RAW_COLUMNS, counts) if count])


def _where(filters: dict[str, list]) -> str:
    """``column IN (values) AND ...`` ("" without filters; an empty list is FALSE)."""
    return " AND ".join(
        f"{name} IN ({', '.join(literal(v) if isinstance(v, str) else str(int(v)) for v in values)})"
        if values else "FALSE" for name, values in filters.items())


def query(cached: Path, columns: list[str], filters: dict[str, list]) -> pa.Table:
    """``SELECT columns FROM cached WHERE column IN (values) AND ...`` as an Arrow table (file order)."""
    where = _where(filters)
    select = ", ".join(identifier(name) for name in columns) or "NULL AS __none"
    with literal_path(cached) as path:
        # Ordered by the row's position: DuckDB may run an IN list as a join, which does not keep file order.
        table = connection().sql(f"SELECT {select} FROM read_parquet({literal(path)}, file_row_number=true)"
                                 + (f" WHERE {where}" if where else "") + " ORDER BY file_row_number").to_arrow_table()
    return _as_cached(table, columns)


def _as_cached(table: pa.Table, columns: list[str]) -> pa.Table:
    """``columns`` of ``table`` with the cache's types (no column: the rows, without columns)."""
    if not columns:
        return pa.table({}).take([]) if table.num_rows == 0 else table.drop_columns(table.column_names)
    return table.select(columns).cast(pa.schema([CACHE_ARROW_SCHEMA.field(name) for name in columns]))


def distinct(cached: Path, column: str, filters: dict[str, list]) -> list[int]:
    """Distinct values of ``column`` in the rows passing ``filters`` (for the unknown-code check)."""
    return sorted({value for value in query(cached, [column], filters)[column].to_pylist() if value is not None})


def answer(source: Source, columns: list[str], filters: dict[str, list]) -> tuple[pa.Table, list[str]]:
    """What :func:`query` would return once the file is cached, answered from the text itself; (table, notes).
    Filter pushdown is off: the checked ``SELECT`` runs on every row, the filters after it."""
    codes_years = _where({name: values for name, values in filters.items() if name != "theme"}) or "TRUE"
    themes = _where({"theme": filters["theme"]}) if "theme" in filters else "TRUE"
    tag = "theme" in filters or bool(set(columns) & set(THEME_COLUMNS))  # the theme expression costs 0.3 s to start
    with connect(memory_limit=MEMORY_LIMIT) as cursor:
        # in_clause: DuckDB would run an IN list as a join, which loses the file's row order.
        cursor.execute("SET disabled_optimizers = 'filter_pushdown,in_clause'")

        def run(inner: str) -> pa.Table:
            kept = f"SELECT * FROM ({inner}) WHERE {codes_years}"
            tagged = f"SELECT * FROM ({tagged_sql(kept, _UNTAGGED)}) WHERE {themes}" if tag else kept
            return cursor.sql(tagged).to_arrow_table()

        table, notes = source.layout.read(source, cursor, run, scratch=None)
    return _as_cached(table, columns), notes
