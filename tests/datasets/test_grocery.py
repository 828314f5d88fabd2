"""load_grocery_store: the shared copy's layout, subsets, and the download path
(on a small fake archive: tests never go online)."""

import io
import zipfile
from pathlib import Path

import pytest

from skmm.datasets import _grocery, load_grocery_store
from tests.conftest import DATA, require_shared


def test_loads_the_shared_layout():
    require_shared(DATA / "grocery")
    data = load_grocery_store(DATA, download=False)
    frame, classes = data.frame, data.classes
    assert frame["split"].value_counts().to_dict() == {
        "train": 2640,
        "test": 2485,
        "val": 296,
    }
    assert list(data.data.columns) == ["photo"] and data.target.nunique() == 81
    assert len(classes) == 81 and list(classes.index) == list(range(81))
    assert classes["coarse_class_id"].nunique() == 43
    assert data.target_names == list(classes["class_name"])
    # Labels agree with the photo's folder; every file the frames name exists.
    assert all(
        Path(p).parent.name == name
        for p, name in zip(frame["photo"][::50], frame["class_name"][::50], strict=True)
    )
    assert all(Path(p).is_file() for p in frame["photo"][::100])
    assert all(Path(p).is_file() for p in classes["iconic_image"])
    assert classes["description"].str.len().min() > 20
    granny = classes[classes["class_name"] == "Granny-Smith"].iloc[0]
    assert "green apple" in granny["description"]
    assert granny["coarse_class_name"] == "Apple"


def test_subsets_and_coarse_target():
    require_shared(DATA / "grocery")
    X, y = load_grocery_store(
        DATA, subset="test", target="coarse", download=False, return_X_y=True
    )
    assert X.shape == (2485, 1) and y.name == "coarse_class_name"
    assert "Apple" in set(y) and y.nunique() <= 43
    both = load_grocery_store(DATA, subset=["train", "val"], download=False)
    assert set(both.frame["split"]) == {"train", "val"} and len(both.frame) == 2936
    with pytest.raises(ValueError, match="subset must be"):
        load_grocery_store(DATA, subset="validation", download=False)
    with pytest.raises(ValueError, match="target must be"):
        load_grocery_store(DATA, target="medium", download=False)


def test_missing_data_without_download_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_grocery_store(tmp_path, download=False)


def _fake_archive() -> bytes:
    """The GitHub zip's layout, with one class and two photos."""
    top = "GroceryStoreDataset-master/"
    base = top + "dataset/"
    icon = "/iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/"
    files = {
        top + "README.md": "readme",
        base + "classes.csv": (
            "Class Name (str),Class ID (int),Coarse Class Name (str),"
            "Coarse Class ID (int),Iconic Image Path (str),"
            "Product Description Path (str)\n"
            f"Granny-Smith,0,Apple,0,{icon}Granny-Smith_Iconic.jpg,"
            f"{icon}Granny-Smith_Description.txt\n"
        ),
        base + "train.txt": "train/Fruit/Apple/Granny-Smith/a.jpg, 0, 0\n",
        base + "val.txt": "",
        base + "test.txt": "test/Fruit/Apple/Granny-Smith/b.jpg, 0, 0\n",
        base + icon.strip("/") + "/Granny-Smith_Description.txt": "A green apple.",
        base + icon.strip("/") + "/Granny-Smith_Iconic.jpg": "jpg",
        base + "train/Fruit/Apple/Granny-Smith/a.jpg": "jpg",
        base + "test/Fruit/Apple/Granny-Smith/b.jpg": "jpg",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_download_unpacks_the_dataset_folder_and_says_so(tmp_path, monkeypatch, capsys):
    fetched = []

    def fake_open(url):
        fetched.append(url)
        return io.BytesIO(_fake_archive())

    monkeypatch.setattr(_grocery, "_open_url", fake_open)
    data = load_grocery_store(tmp_path / "home")
    assert fetched == [_grocery._URL]
    assert "downloading the Grocery Store Dataset" in capsys.readouterr().err
    root = tmp_path / "home" / "grocery"
    assert (root / "classes.csv").is_file() and not (root / "README.md").exists()
    assert list(data.frame["split"]) == ["train", "test"]
    assert data.classes.loc[0, "description"] == "A green apple."
    # A second call reads what is there.
    load_grocery_store(tmp_path / "home", download=False)
    assert len(fetched) == 1
