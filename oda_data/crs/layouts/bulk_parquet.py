"""The "CRS-Parquet" and "CRS-reduced-parquet" bulk files (the bulk text's columns), read by DuckDB. Numeric
columns of any physical type are read (NaN is NA; a number in text is cast, an empty string NA, anything else an
error naming the column and the row)."""
from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CRSFormatError
from ..opening import Layout, Source, literal_path
from ..sql import identifier, literal
from . import bulk


def _numbers(source: Source) -> bulk.Numbers:
    types = {field.name: field.type for field in pq.read_schema(source.path)}

    def kind(column: str) -> pa.DataType:
        found = types[column]
        return found.value_type if pa.types.is_dictionary(found) else found

    def is_text(column: str) -> bool:
        found = kind(column)
        return pa.types.is_string(found) or pa.types.is_large_string(found) or pa.types.is_binary(found)

    def text(column: str) -> str:
        return f"nullif(trim(CAST({identifier(column)} AS VARCHAR)), '')"

    def value(column: str) -> str:
        raw = identifier(column)
        if is_text(column):
            return f"TRY_CAST({text(column)} AS DOUBLE)"
        if pa.types.is_null(kind(column)):
            return "CAST(NULL AS DOUBLE)"
        if pa.types.is_floating(kind(column)):
            # (not isnan: DuckDB folds it to false from Parquet statistics that leave NaN out)
            return f"CASE WHEN NOT isfinite({raw}) AND NOT isinf({raw}) THEN NULL ELSE CAST({raw} AS DOUBLE) END"
        return f"CAST({raw} AS DOUBLE)"

    def unparsable(column: str) -> str:
        return f"({text(column)} IS NOT NULL AND {value(column)} IS NULL)" if is_text(column) else "FALSE"

    return bulk.Numbers(value, unparsable)


def read(source: Source, cursor, run, *, scratch=None, on_read=None, options=None):
    numbers = _numbers(source)
    with literal_path(source.path) as path:
        relation = f"read_parquet({literal(path)})"
        sql, found = bulk.select(source, relation, numbers)
        try:
            result = run(sql)
        except duckdb.Error as error:
            message = str(error)
            if bulk.BAD not in message:
                raise CRSFormatError(f"{source.path}: cannot read the bulk Parquet file: "
                                     f"{message.splitlines()[0]}") from None
            row, problem = bulk.locate_bad(cursor.cursor(), relation, found, message, numbers)
            raise CRSFormatError(f"{source.path}: row {row}: {problem}") from None
    if on_read:
        on_read(source.size)
    return result, []


LAYOUT = Layout("bulk_parquet", bulk.matches, read, parquet=True)
