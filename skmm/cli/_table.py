"""Reading a user's table: the file, its columns, its relative file paths."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from skmm.cli._common import CommandError

__all__ = ["read_table", "resolve_paths"]


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``), TSV (``.tsv``) or parquet file.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    table : DataFrame

    Raises
    ------
    CommandError
        When the file does not exist, cannot be parsed, or has no rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skmm.cli._table import read_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b\\n1,x\\n2,y\\n")
    >>> read_table(path).shape
    (2, 2)
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            table = pd.read_parquet(path)
        else:
            sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab")) else ","
            table = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise CommandError(f"{path}: the file is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CommandError(f"{path}: cannot read it as a table: {exc}") from None
    if len(table) == 0:
        raise CommandError(
            f"{path}: the file has a header ({', '.join(map(str, table.columns))}) "
            "but no rows"
        )
    return table


def _check_columns(
    table: pd.DataFrame, columns: Sequence[str], option: str, source: str
) -> None:
    for column in columns:
        if column not in table.columns:
            close = difflib.get_close_matches(column, map(str, table.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CommandError(
                f"column {column!r} ({option}) is not in {source}{hint} Its columns "
                f"are: {', '.join(map(str, table.columns))}"
            )


def resolve_paths(
    table: pd.DataFrame, columns: Sequence[str], base: str | os.PathLike
) -> pd.DataFrame:
    """Make the relative file paths in ``columns`` relative to ``base``.

    Paths in a table are taken relative to the table's own folder, so that a
    table and its media can move together.
    """
    base = Path(base)
    table = table.copy()
    for column in columns:

        def resolve(value: Any) -> Any:
            if isinstance(value, str) and value and "://" not in value:
                path = Path(value).expanduser()
                if not path.is_absolute():
                    return str(base / path)
            return value

        table[column] = table[column].map(resolve)
    return table
