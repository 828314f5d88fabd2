"""The Grocery Store Dataset (Klasson et al. 2019): photos of 81 grocery classes,
each class with a product description and an iconic image."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_grocery_store"]

_URL = (
    "https://github.com/marcusklasson/GroceryStoreDataset/archive/refs/heads/master.zip"
)
_FOLDER = "grocery"
_SPLITS = ("train", "val", "test")
_CLASS_COLUMNS = {
    "Class Name (str)": "class_name",
    "Class ID (int)": "class_id",
    "Coarse Class Name (str)": "coarse_class_name",
    "Coarse Class ID (int)": "coarse_class_id",
    "Iconic Image Path (str)": "iconic_image",
    "Product Description Path (str)": "description_path",
}
_DESCR = """Grocery Store Dataset (Klasson, Zhang and Kjellstrom, WACV 2019; MIT)
5,421 natural photos of grocery items (fruit, vegetables, packages) taken with a
smartphone in grocery stores: 2,640 train / 296 val / 2,485 test. 81 fine classes
(e.g. Granny-Smith) grouped in 43 coarse classes (e.g. Apple). Each fine class has a
product description (a short English text) and an iconic image (a product shot from
a web shop): they belong to the class, not to the photo, so they are the data for
cross-modal learning (match photos to descriptions, classify photos of classes seen
only as a description), never a per-photo input (that leaks the label).
Source: https://github.com/marcusklasson/GroceryStoreDataset"""


def _default_data_home() -> Path:
    return Path(os.environ.get("SKMM_DATA", Path.home() / "skmm_data"))


def _say(message: str) -> None:
    print(f"skmm.datasets.load_grocery_store: {message}", file=sys.stderr, flush=True)


def _open_url(url: str):
    return urllib.request.urlopen(url, timeout=60)


def _download(target: Path) -> None:
    """Fetch the GitHub archive and unpack its ``dataset/`` folder as ``target``."""
    _say(f"downloading the Grocery Store Dataset (about 1 GB) from {_URL} to {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive_path = Path(tmp) / "grocery.zip"
        with _open_url(_URL) as response, open(archive_path, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
        staging = Path(tmp) / _FOLDER
        with zipfile.ZipFile(archive_path) as archive:
            for info in archive.infolist():
                parts = Path(info.filename).parts
                # GroceryStoreDataset-master/dataset/<what we keep>
                if len(parts) < 3 or parts[1] != "dataset" or info.is_dir():
                    continue
                if ".." in parts:
                    raise ValueError(f"unsafe path in the archive: {info.filename!r}")
                dest = staging.joinpath(*parts[2:])
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        if not (staging / "classes.csv").exists():
            raise ValueError(
                f"the archive from {_URL} has no dataset/classes.csv: its layout "
                "changed; download it by hand into data_home/grocery"
            )
        os.replace(staging, target)  # complete or absent, never half there


def _read_split(root: Path, split: str) -> pd.DataFrame:
    path = root / f"{split}.txt"
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3:
            raise ValueError(
                f"{path}, line {number}: expected 'path, fine id, coarse id', got "
                f"{line!r}"
            )
        rows.append((str(root / fields[0]), split, int(fields[1]), int(fields[2])))
    return pd.DataFrame(rows, columns=["photo", "split", "class_id", "coarse_class_id"])


def _read_classes(root: Path) -> pd.DataFrame:
    classes = pd.read_csv(root / "classes.csv")
    unknown = set(_CLASS_COLUMNS) - set(classes.columns)
    if unknown:
        raise ValueError(
            f"{root / 'classes.csv'} lacks the columns {sorted(unknown)}; it has "
            f"{list(classes.columns)}"
        )
    classes = classes.rename(columns=_CLASS_COLUMNS)[list(_CLASS_COLUMNS.values())]
    for column in ("iconic_image", "description_path"):
        classes[column] = [str(root / str(p).lstrip("/")) for p in classes[column]]
    classes["description"] = [
        Path(p).read_text(encoding="utf-8").strip() for p in classes["description_path"]
    ]
    classes = classes.sort_values("class_id").set_index("class_id", drop=False)
    classes.index.name = None
    return classes


def load_grocery_store(
    data_home: str | os.PathLike | None = None,
    *,
    subset: str | Sequence[str] = "all",
    target: str = "fine",
    download: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[pd.DataFrame, pd.Series]:
    """Load the Grocery Store Dataset: photos, and a description and iconic image
    per class.

    5,421 smartphone photos of 81 fine-grained grocery classes (43 coarse classes)
    with the dataset's own train/val/test split (Klasson et al., WACV 2019, MIT
    licence). Each fine class also has a product description (text) and an iconic
    image: these describe the class, not the photo, which makes the dataset a
    benchmark for cross-modal learning (see :class:`skmm.crossmodal.
    CrossModalAligner` and :class:`skmm.crossmodal.ZeroShotClassifier`). Used as a
    per-photo input they would leak the label.

    Parameters
    ----------
    data_home : str or os.PathLike or None, default=None
        Folder holding ``grocery/`` in the dataset's layout (``train.txt``,
        ``val.txt``, ``test.txt`` with lines ``path, fine id, coarse id``,
        ``classes.csv``, and the photo and ``iconic-images-and-descriptions``
        folders). None: ``$SKMM_DATA``, else ``~/skmm_data``.
    subset : {"all", "train", "val", "test"} or list of them, default="all"
        Which split(s) to return; the split of each photo is in ``frame["split"]``.
    target : {"fine", "coarse"}, default="fine"
        The class name returned as ``target``: the fine class (e.g.
        ``"Granny-Smith"``) or the coarse one (e.g. ``"Apple"``).
    download : bool, default=True
        When ``data_home/grocery`` is absent, fetch the dataset's GitHub repository
        (a zip of its master branch, about 1 GB) and unpack its ``dataset`` folder
        there. A message on stderr says so.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : Bunch
        - ``data``: DataFrame with one column ``photo`` (absolute path of a jpg);
        - ``target``: Series of class names (fine or coarse, see ``target``);
        - ``frame``: ``photo``, ``split``, ``class_id``, ``class_name``,
          ``coarse_class_id``, ``coarse_class_name``;
        - ``classes``: DataFrame of the 81 fine classes, indexed by ``class_id``:
          ``class_name``, ``class_id``, ``coarse_class_name``, ``coarse_class_id``,
          ``description`` (the text), ``description_path``, ``iconic_image``
          (absolute path);
        - ``target_names``: the 81 fine (or 43 coarse) class names, by id;
        - ``feature_names``, ``target_name`` and ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When the data is not in ``data_home`` and ``download`` is False.

    Examples
    --------
    >>> from skmm.datasets import load_grocery_store
    >>> grocery = load_grocery_store("../shared/data",
    ...                              subset="test")  # doctest: +SKIP
    >>> grocery.data.shape, len(grocery.classes)  # doctest: +SKIP
    ((2485, 1), 81)
    >>> grocery.classes.loc[1, ["class_name", "description"]]  # doctest: +SKIP
    """
    if target not in ("fine", "coarse"):
        raise ValueError(f"target must be 'fine' or 'coarse', got {target!r}")
    splits = [subset] if isinstance(subset, str) else list(subset)
    if splits == ["all"]:
        splits = list(_SPLITS)
    unknown = [s for s in splits if s not in _SPLITS]
    if unknown or not splits:
        raise ValueError(
            f"subset must be 'all', 'train', 'val', 'test' or a list of them; got "
            f"{subset!r}"
        )
    home = Path(data_home) if data_home is not None else _default_data_home()
    root = (home.expanduser() / _FOLDER).resolve()
    if not (root / "classes.csv").exists():
        if not download:
            raise FileNotFoundError(
                f"load_grocery_store: {root / 'classes.csv'} not found; pass "
                "download=True to fetch the dataset, or data_home= a folder holding "
                f"{_FOLDER}/ (classes.csv, train.txt, val.txt, test.txt, images)"
            )
        _download(root)

    classes = _read_classes(root)
    frame = pd.concat([_read_split(root, s) for s in splits], ignore_index=True)
    unknown_ids = sorted(set(frame["class_id"]) - set(classes["class_id"]))
    if unknown_ids:
        raise ValueError(
            f"{root}: photos have class ids {unknown_ids[:5]} that classes.csv lacks"
        )
    frame["class_name"] = classes["class_name"].reindex(frame["class_id"]).to_numpy()
    coarse_names = classes.drop_duplicates("coarse_class_id").set_index(
        "coarse_class_id"
    )["coarse_class_name"]
    frame["coarse_class_name"] = coarse_names.reindex(
        frame["coarse_class_id"]
    ).to_numpy()
    frame = frame[
        [
            "photo",
            "split",
            "class_id",
            "class_name",
            "coarse_class_id",
            "coarse_class_name",
        ]
    ]
    target_column = "class_name" if target == "fine" else "coarse_class_name"
    target_names = (
        list(classes["class_name"])
        if target == "fine"
        else list(coarse_names.sort_index())
    )
    data, y = frame[["photo"]], frame[target_column].rename(target_column)
    if return_X_y:
        return data, y
    return Bunch(
        data=data,
        target=y,
        frame=frame,
        classes=classes,
        target_names=target_names,
        feature_names=["photo"],
        target_name=target_column,
        DESCR=_DESCR,
    )
