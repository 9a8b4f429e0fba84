"""Small DuckDB helpers every CRS module uses: quoting and a quiet connection."""
from __future__ import annotations

import contextlib

import duckdb


def literal(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted SQL identifier (a header may hold spaces, quotes or control characters)."""
    return '"' + name.replace('"', '""') + '"'


def quiet(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No DuckDB progress bar (Jupyter without ipywidgets refuses the setting, and draws none)."""
    with contextlib.suppress(duckdb.Error):
        connection.execute("SET enable_progress_bar = false")
    return connection


def connect(**config) -> duckdb.DuckDBPyConnection:
    return quiet(duckdb.connect(config=config))
