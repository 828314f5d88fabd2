"""Automatic column types: what each column of a table holds, and why.

:func:`detect_column_types` looks at a pandas or polars DataFrame and gives each
column one kind: ``image``, ``audio`` or ``video`` (file paths, bytes or arrays,
confirmed by decoding a small sample with :mod:`skmm.io`), ``text`` (free text),
``categorical``, ``numeric`` (numbers stored as strings included), ``datetime``
or ``drop`` (identifiers, constant or empty columns, files that do not decode),
with the reason for each choice; and the default block of each kind
(:func:`default_encoder`, :func:`tabular_block`), from which
:func:`skmm.compose._make.build_union` builds the union.

Probing is bounded: at most ``sample_size`` values per column are opened, only
regular files (never a FIFO or a device, :mod:`skmm.io`'s checks), no file larger
than ``max_file_size``, and an image only within PIL's decompression-bomb limit.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

from skmm._dataframe import column_values
from skmm.encoders import is_missing
from skmm.io import check_audio, check_image, decode_audio, decode_image, decode_video
from skmm.io._files import check_path

__all__ = [
    "BLOCK_NAMES",
    "KINDS",
    "ColumnTypes",
    "default_encoder",
    "detect_column_types",
    "tabular_block",
]

#: The kinds a column can get.
KINDS = (
    "image",
    "audio",
    "video",
    "text",
    "categorical",
    "numeric",
    "datetime",
    "drop",
)
_MEDIA = ("image", "audio", "video")
_EXTENSIONS = {
    "image": (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"),
    "audio": (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus", ".m4a"),
    "video": (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v"),
}
# A media column: at least this share of the sampled values decode.
_MEDIA_SHARE = 0.8
# Free text (AutoGluon's rule): more than 1% distinct values and 3 or more words
# on average over the distinct values; or mostly distinct values of 2 words or
# more (titles, names).
_TEXT_MIN_UNIQUE_RATIO = 0.01
_TEXT_MIN_WORDS = 3.0
# A string column is an identifier when all its values are distinct (and more
# than _ID_MIN of them), high-cardinality when it has more distinct values than
# _MAX_CATEGORIES and than _HIGH_SHARE of its rows.
_ID_MIN = 10
_MAX_CATEGORIES = 50
_HIGH_SHARE = 0.5
# Rows whose strings are looked at for text, dates and numbers.
_STATS_ROWS = 5000
_DATE_SHAPE = re.compile(r"\d.*[-/:.]|[-/:.].*\d")
_LONGEST_PATH = 4096
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class ColumnTypes(Mapping):
    """The kind of each column of a table, and the reason for it.

    A read-only mapping column -> kind (see :data:`KINDS`); ``reasons`` says why
    each kind was chosen, :meth:`to_frame` gives both as a table, and ``print``
    shows it. Returned by :func:`~skmm.detect_column_types`; pass it (or a
    partial mapping) as ``types=`` to :func:`~skmm.make_multimodal_union` to use
    or override it.

    Parameters
    ----------
    types : dict of str to str
        Column to kind.
    reasons : dict of str to str, default={}
        Column to the reason of its kind.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm import detect_column_types
    >>> types = detect_column_types(pd.DataFrame({"n": [1, 2], "c": ["a", "b"]}))
    >>> types["n"], types.columns("categorical"), types.reasons["n"]
    ('numeric', ['c'], 'numbers')
    >>> types.to_frame()["kind"].tolist()
    ['numeric', 'categorical']
    """

    types: dict[str, str]
    reasons: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, column: str) -> str:
        return self.types[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def columns(self, kind: str) -> list[str]:
        """The columns of one kind, in table order.

        Parameters
        ----------
        kind : str
            One of :data:`KINDS`.

        Returns
        -------
        columns : list of str
        """
        return [c for c, k in self.types.items() if k == kind]

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame indexed by column, with the ``kind`` and ``reason`` of each."""
        frame = pd.DataFrame(
            {
                "kind": list(self.types.values()),
                "reason": [self.reasons.get(c, "") for c in self.types],
            },
            index=pd.Index(list(self.types), name="column"),
        )
        return frame

    def __str__(self) -> str:
        width = max([len("column"), *(len(c) for c in self.types)])
        lines = [f"{'column':<{width}}  {'kind':<11}  reason"]
        for column, kind in self.types.items():
            lines.append(
                f"{column:<{width}}  {kind:<11}  {self.reasons.get(column, '')}"
            )
        return "\n".join(lines)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sample(values: list, size: int) -> list:
    """Up to ``size`` values spread evenly over the list (deterministic)."""
    if len(values) <= size:
        return list(values)
    positions = np.linspace(0, len(values) - 1, size).round().astype(int)
    return [values[p] for p in positions]


def _quiet(call: Callable[[], Any]) -> bool:
    """Whether ``call`` returns without an error; its warnings are not shown."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call()
        except Exception:  # noqa: BLE001 - any failure means "not this kind"
            return False
    close = getattr(result, "close", None)
    if callable(close):
        close()
    return True


def _decoder(kind: str, value: Any) -> Callable[[], Any]:
    if kind == "image":
        return lambda: decode_image(value)
    if kind == "audio":
        return lambda: decode_audio(value)
    return lambda: decode_video(value, n_frames=1)


def _probe_file(path: str, max_file_size: int) -> tuple[str | None, str | None]:
    """(kind, None) for a decodable media file; (None, why not) otherwise."""
    why = check_path(path, "media")
    if why is not None:
        return None, why
    size = os.stat(path).st_size
    if size > max_file_size:
        return None, f"larger than max_file_size ({size} bytes)"
    suffix = Path(path).suffix.lower()
    order = sorted(_MEDIA, key=lambda k: suffix not in _EXTENSIONS[k])
    for kind in order:
        if _quiet(_decoder(kind, path)):
            return kind, None
    return None, "does not decode as an image, audio or video"


def _probe_value(
    value: Any, base: Path | None, max_file_size: int
) -> tuple[str | None, str | None]:
    """The media kind of one value, or why it has none."""
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if (
            not isinstance(text, str)
            or len(text) > _LONGEST_PATH
            or "\n" in text
            or "\x00" in text
        ):
            return None, "not a path"
        if _URL.match(text):  # Path() would fold "https://" into "https:/"
            return None, check_path(text, "media") or "a URL"
        path = Path(text).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return _probe_file(str(path), max_file_size)
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) > max_file_size:
            return None, f"larger than max_file_size ({len(value)} bytes)"
        if _quiet(lambda: decode_image(bytes(value))):
            return "image", None
        return None, "bytes that do not decode as an image"
    if check_image(value) is None:  # a PIL image or an HxW(xC) uint8 array
        return "image", None
    if isinstance(value, np.ndarray) and check_audio(value) is None:
        return "audio", None
    return None, f"a {type(value).__name__}"


def _media_kind(
    present: list, base: Path | None, sample_size: int, max_file_size: int
) -> tuple[str | None, str | None]:
    """(kind, reason) when the sampled values are media; (None, reason or None)."""
    sample = _sample(present, sample_size)
    found = [_probe_value(v, base, max_file_size) for v in sample]
    kinds = [k for k, _ in found if k is not None]
    n = len(sample)
    if kinds:
        best = max(_MEDIA, key=kinds.count)
        hits = kinds.count(best)
        if hits >= _MEDIA_SHARE * n:
            return best, f"{hits} of {n} sampled values decode as {best}"
    urls = sum(why is not None and why.startswith("a URL") for _, why in found)
    if urls >= 0.5 * n:
        return None, (
            f"URLs ({urls} of {n} sampled values, e.g. {_short(sample[0])}): skmm "
            "does not fetch URLs; download the files and give their local paths"
        )
    is_path = [isinstance(v, (str, os.PathLike)) for v in sample]
    if not all(is_path):
        if kinds:
            return None, (
                f"only {len(kinds)} of {n} sampled values decode as images or audio"
            )
        return None, None
    suffixes = [Path(os.fspath(v)).suffix.lower() for v in sample]
    media_suffix = [any(s in e for e in _EXTENSIONS.values()) for s in suffixes]
    # Paths that exist (special files and folders included) or that name files.
    absent = ("file not found", "not a path", "empty path", "a URL", "cannot access")
    files = [why is None or not why.startswith(absent) for _, why in found]
    if sum(files) >= 0.5 * n or sum(media_suffix) >= _MEDIA_SHARE * n:
        where = f"relative to {base}" if base is not None else "relative to the cwd"
        reasons = sorted({why for _, why in found if why is not None})
        return None, (
            f"file paths, but only {len(kinds)} of {n} sampled values decode as "
            f"images, audio or video ({'; '.join(reasons)}; relative paths are read "
            f"{where}, e.g. {_short(sample[0])})"
        )
    return None, None


def _string_kind(values: list, n_rows: int) -> tuple[str, str]:
    """The kind of a column of strings that are not media."""
    strings = [str(v) for v in values]
    distinct = len(set(strings))
    if distinct == 1 and len(strings) == n_rows:
        return "drop", f"one value ({_short(strings[0])}) in every row"
    from skmm.compose._datetime import parse_numbers

    if parse_numbers(strings).notna().all():
        separated = any("," in s for s in strings)
        return "numeric", "numbers stored as strings" + (
            " (thousands separated by commas)" if separated else ""
        )
    stats = _sample(strings, _STATS_ROWS)
    if all(_DATE_SHAPE.search(s) for s in stats[:200]):
        from skmm.compose._datetime import parse_datetimes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parse_datetimes(stats[:200])
        if parsed.notna().mean() >= 0.9:
            return "datetime", "dates stored as strings"
    unique = set(stats)
    ratio = len(unique) / len(stats)
    words = float(np.mean([len(s.split()) for s in unique]))
    figures = (
        f"{distinct} distinct values in {n_rows} rows, {words:.1f} words on average"
    )
    if ratio > _TEXT_MIN_UNIQUE_RATIO and words >= _TEXT_MIN_WORDS:
        return "text", f"free text ({figures})"
    high = distinct > _MAX_CATEGORIES and distinct > _HIGH_SHARE * n_rows
    if high and words >= 2.0:
        return "text", f"free text ({figures})"
    if (distinct == len(strings) and distinct > _ID_MIN) or high:
        what = "an identifier" if words < 2.0 else "an identifier or free text"
        return "drop", (
            f"{distinct} distinct values in {n_rows} rows: {what} "
            f"(say 'text' or 'categorical' for it to keep it)"
        )
    return "categorical", f"{distinct} distinct values in {n_rows} rows"


def _column_kind(
    series: Any,
    n_rows: int,
    base: Path | None,
    sample_size: int,
    max_file_size: int,
) -> tuple[str, str]:
    dtype = series.dtype
    values = column_values(nw.to_native(series))
    # Empty strings are missing values here: Path("") is the working directory.
    present = [
        v
        for v in values
        if not is_missing(v) and not (isinstance(v, str) and not v.strip())
    ]
    if not present:
        blank = any(isinstance(v, str) for v in values)
        return "drop", "every value is missing" + (
            " (empty strings count as missing)" if blank else ""
        )
    if isinstance(dtype, (nw.Categorical, nw.Enum)):
        return "categorical", "a categorical column"
    if isinstance(dtype, nw.Boolean):
        return "numeric", "booleans"
    if dtype.is_numeric():
        if len(present) == n_rows and len(set(present)) == 1:
            return "drop", f"one value ({_short(present[0])}) in every row"
        return "numeric", "numbers"
    if isinstance(dtype, (nw.Datetime, nw.Date)):
        return "datetime", "dates"
    if isinstance(dtype, nw.Duration):
        return "drop", "durations (convert them to numbers to use them)"
    kind, why = _media_kind(present, base, sample_size, max_file_size)
    if kind is not None:
        return kind, why
    if why is not None:
        return "drop", why
    if all(isinstance(v, str) for v in present):
        return _string_kind(present, n_rows)
    if all(isinstance(v, (bool, int, float, np.number)) for v in present):
        return "numeric", "numbers"
    types = sorted({type(v).__name__ for v in present})
    return "drop", f"values of type {', '.join(types)}"


@validate_params(
    {
        "X": "no_validation",  # a pandas or polars frame: checked below
        "types": [Mapping, None],
        "sample_size": [Interval(Integral, 1, None, closed="left")],
        "max_file_size": [Interval(Integral, 0, None, closed="left")],
        "base": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def detect_column_types(
    X: Any,
    *,
    types: Mapping[str, str] | None = None,
    sample_size: int = 10,
    max_file_size: int = 64 * 2**20,
    base: str | os.PathLike | None = None,
) -> ColumnTypes:
    """Decide what each column of a table holds, and say why.

    ``image``, ``audio`` and ``video`` columns hold file paths (or bytes, PIL
    images, arrays) of which at least 80% of a sample decode with
    :mod:`skmm.io`; ``text`` is free text (more than 1% distinct values and 3
    words or more on average, as AutoGluon decides, or mostly distinct values of
    2 words or more); ``numeric`` holds numbers or booleans (or strings that all
    read as numbers); ``datetime`` dates (or strings that read as dates);
    ``categorical`` the other strings; ``drop`` what no model should read:
    identifiers (all values distinct), columns with more than 50 distinct
    strings in over half the rows, constant or empty columns, paths to files
    that do not decode.

    Parameters
    ----------
    X : pandas or polars DataFrame
        The input columns (without the target).
    types : mapping of str to str, default=None
        Kinds given by the user: these columns are not looked at.
    sample_size : int, default=10
        Values of a column opened to decide whether it holds media.
    max_file_size : int, default=64 MiB
        Larger files are not opened (and do not count as media).
    base : str or PathLike, default=None
        The folder relative paths are read from (None: the working directory).

    Returns
    -------
    column_types : ColumnTypes
        Column to kind, with ``reasons``; ``print`` it to see the choices.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm import detect_column_types
    >>> X = pd.DataFrame({
    ...     "review": ["fits well and feels soft", "too small, sent it back",
    ...                "lovely colour, would buy again", "the seams came apart"],
    ...     "size": ["S", "M", "S", "L"],
    ...     "price": ["10.5", "12", "9.99", "30"],
    ...     "sold": ["2024-01-02", "2024-02-03", "2024-03-04", "2024-04-05"],
    ...     "shop": ["web"] * 4,
    ... })
    >>> dict(detect_column_types(X))  # doctest: +NORMALIZE_WHITESPACE
    {'review': 'text', 'size': 'categorical', 'price': 'numeric',
     'sold': 'datetime', 'shop': 'drop'}
    >>> print(detect_column_types(X, types={"size": "text"}))
    column  kind         reason
    review  text         free text (4 distinct values in 4 rows, 4.8 words on average)
    size    text         given in types=
    price   numeric      numbers stored as strings
    sold    datetime     dates stored as strings
    shop    drop         one value ('web') in every row
    """
    frame = nw.from_native(X, eager_only=True, pass_through=True)
    if not isinstance(frame, nw.DataFrame):
        raise TypeError(
            f"detect_column_types needs a pandas or polars DataFrame, got "
            f"{type(X).__name__}"
        )
    given = {str(c): kind for c, kind in (types or {}).items()}
    names = [str(c) for c in frame.columns]
    unknown = [c for c in given if c not in names]
    if unknown:
        raise ValueError(
            f"types= names column {unknown[0]!r}, which is not in X; its columns "
            f"are: {', '.join(names)}"
        )
    for column, kind in given.items():
        if kind not in KINDS:
            raise ValueError(
                f"types= gives column {column!r} the kind {kind!r}; the kinds are "
                f"{', '.join(KINDS)}"
            )
    if isinstance(types, ColumnTypes):
        reasons = dict(types.reasons)
    else:
        reasons = {c: "given in types=" for c in given}
    folder = None if base is None else Path(base)
    kinds, why = {}, {}
    n_rows = len(frame)
    for original, name in zip(frame.columns, names, strict=True):
        if name in given:
            kinds[name], why[name] = given[name], reasons.get(name, "given in types=")
            continue
        # get_column: ``frame[0]`` would be row 0 for integer column names.
        kinds[name], why[name] = _column_kind(
            frame.get_column(original), n_rows, folder, sample_size, max_file_size
        )
    return ColumnTypes(kinds, why)


# -- the default block of each kind ---------------------------------------------
def default_encoder(kind: str) -> Any:
    """The encoder of a media kind with its defaults."""
    from skmm.encoders import AudioEncoder, ImageEncoder, TextEncoder, VideoEncoder

    return {
        "image": ImageEncoder,
        "text": TextEncoder,
        "audio": AudioEncoder,
        "video": VideoEncoder,
    }[kind]()


#: Block name of each kind in the built union.
BLOCK_NAMES = {
    "image": "image",
    "text": "text",
    "audio": "audio",
    "video": "video",
    "numeric": "numbers",
    "datetime": "dates",
    "categorical": "categories",
}


def tabular_block(kind: str, native: bool):
    """The block of a tabular kind: raw numbers and codes (``native``), or imputed,
    standardised numbers and one-hot categories."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    from skmm.compose._categorical import CategoricalEncoder
    from skmm.compose._datetime import DatetimeFeatures, to_float

    if kind == "categorical":
        # Codes typed as categorical where the head reads them natively (the
        # ensemble's trees); one-hot columns, which every head reads, otherwise.
        if native:
            return CategoricalEncoder(min_frequency=5)
        return make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing"),
            OneHotEncoder(
                handle_unknown="ignore", min_frequency=5, sparse_output=False
            ),
        )
    steps = []
    if kind == "datetime":
        steps.append(DatetimeFeatures())
    else:  # numbers stored as strings too
        steps.append(FunctionTransformer(to_float, feature_names_out="one-to-one"))
    if not native:
        steps += [SimpleImputer(strategy="median"), StandardScaler()]
    return steps[0] if len(steps) == 1 else make_pipeline(*steps)
