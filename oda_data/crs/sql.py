"""Small DuckDB helpers every CRS module uses: quoting and a quiet connection."""
from __future__ import annotations

import duckdb


def literal(text) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted SQL identifier (a header may hold spaces, quotes or control characters)."""
    return '"' + name.replace('"', '""') + '"'


def quiet(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No DuckDB progress bar in a terminal or a notebook (Jupyter without ipywidgets refuses
    the setting and draws no bar: the refusal is ignored)."""
    try:
        connection.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    return connection


def connect(**config) -> duckdb.DuckDBPyConnection:
    """A new quiet in-memory connection."""
    return quiet(duckdb.connect(config=config))
