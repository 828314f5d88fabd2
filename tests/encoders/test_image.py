import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from PIL import Image

from skmm import ImageEncoder
from skmm.exceptions import UnreadableValuesWarning
from tests.conftest import TINY_BN_MODEL, TINY_IMAGE_MODEL, make_image


def encoder(**params):
    params.setdefault("pretrained", False)
    params.setdefault("device", "cpu")
    return ImageEncoder(TINY_IMAGE_MODEL, **params)


def test_every_image_form_gives_the_same_vector(image_paths):
    array = np.asarray(Image.open(image_paths[0]))
    png = Path(image_paths[0]).read_bytes()
    forms = [
        image_paths[0],
        Path(image_paths[0]),
        png,
        bytearray(png),
        Image.open(image_paths[0]),
        array,
    ]
    X = encoder().fit_transform(forms)
    assert X.shape == (len(forms), 64) and X.dtype == np.float32
    assert np.isfinite(X).all()
    np.testing.assert_allclose(X, np.broadcast_to(X[0], X.shape), atol=1e-5)


def test_grey_and_alpha_arrays_are_converted_to_rgb():
    grey = make_image(0)[:, :, 0]
    rgb_of_grey = np.repeat(grey[:, :, None], 3, axis=2)
    rgba = np.dstack([make_image(1), np.full(grey.shape, 255, np.uint8)])
    X = encoder().fit_transform(
        [grey, grey[:, :, None], rgb_of_grey, rgba, make_image(1)]
    )
    np.testing.assert_allclose(X[0], X[2], atol=1e-5)
    np.testing.assert_allclose(X[1], X[2], atol=1e-5)
    np.testing.assert_allclose(X[3], X[4], atol=1e-5)


def test_different_images_give_different_vectors(image_paths):
    X = encoder().fit_transform(image_paths)
    assert np.abs(X[0] - X[1]).max() > 1e-3


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, np.nan])
def test_missing_value_gives_a_nan_row(image_paths, missing):
    X = encoder().fit_transform([image_paths[0], missing, image_paths[1]])
    assert np.isnan(X[1]).all()
    assert np.isfinite(X[[0, 2]]).all()
    np.testing.assert_allclose(X[0], encoder().fit_transform(image_paths[:1])[0])


def test_all_missing_column():
    X = encoder().fit_transform(pd.DataFrame({"photo": [None, None]}))
    assert X.shape == (2, 64) and np.isnan(X).all()


def test_output_does_not_depend_on_batch_size_or_workers(image_paths):
    """Also checks eval mode: a BatchNorm model in train mode mixes the batch."""
    X1 = ImageEncoder(
        TINY_BN_MODEL, pretrained=False, device="cpu", batch_size=1
    ).fit_transform(image_paths)
    X3 = ImageEncoder(
        TINY_BN_MODEL, pretrained=False, device="cpu", batch_size=3
    ).fit_transform(image_paths)
    X_workers = ImageEncoder(
        TINY_BN_MODEL, pretrained=False, device="cpu", batch_size=2, num_workers=2
    ).fit_transform(image_paths)
    np.testing.assert_allclose(X1, X3, atol=1e-5)
    np.testing.assert_allclose(X1, X_workers, atol=1e-5)


def test_random_init_is_the_same_in_every_fit_and_leaves_global_rng_alone():
    from skmm.encoders import clear_model_registry

    state = torch.random.get_rng_state()
    X1 = encoder().fit_transform([make_image(0)])
    clear_model_registry()
    X2 = encoder().fit_transform([make_image(0)])
    np.testing.assert_array_equal(X1, X2)
    assert torch.equal(state, torch.random.get_rng_state())


def test_local_weights_file(tmp_path):
    model = timm.create_model(TINY_IMAGE_MODEL, pretrained=False, num_classes=0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05)
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    image = make_image(3)
    X_file = encoder(pretrained=path).fit_transform([image])
    X_random = encoder().fit_transform([image])
    assert np.abs(X_file - X_random).max() > 1e-3
    # The file's weights, preprocessed with the model's own data config.
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    with torch.inference_mode():
        expected = model.eval()(transform(Image.fromarray(image))[None]).numpy()
    np.testing.assert_allclose(X_file, expected, atol=1e-4)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        encoder(pretrained=tmp_path / "nope.safetensors").fit([make_image(0)])


def bad_values(tmp_path):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("this is text")
    buffer = io.BytesIO()
    Image.fromarray(make_image(0, size=(200, 200))).save(buffer, format="JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(buffer.getvalue()[:400])
    return {
        "missing file": (str(tmp_path / "nope.png"), "file not found"),
        "not an image": (str(not_image), "not a readable image"),
        "truncated": (str(truncated), "corrupt or truncated"),
        "wrong type": (12, "unsupported type int"),
        "float array": (np.zeros((4, 4, 3)), "dtype float64"),
        "bad shape": (np.zeros((4, 4, 2), np.uint8), "shape"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "not an image",
        "truncated",
        "wrong type",
        "float array",
        "bad shape",
    ],
)
def test_bad_value_error_names_column_row_and_value(tmp_path, case):
    value, reason = bad_values(tmp_path)[case]
    X = pd.DataFrame({"photo": [make_image(0), None, value]})
    with pytest.raises(ValueError) as info:
        encoder().fit_transform(X)
    message = str(info.value)
    assert "column 'photo'" in message and "row 2" in message
    assert reason in message
    if isinstance(value, str):
        assert value in message


def test_bad_path_error_shows_a_long_path_whole_and_a_huge_one_by_its_ends(tmp_path):
    """A deep absolute path stays whole in the message (it can be copied); only a
    path past a few hundred characters loses its middle, never its file name."""
    deep = tmp_path.joinpath(*["subfolder_of_the_photo_archive"] * 4, "missing.png")
    huge = tmp_path.joinpath(*["subfolder_of_the_photo_archive"] * 12, "lost.png")
    for path in (deep, huge):
        X = pd.DataFrame({"photo": [make_image(0), str(path)]})
        with pytest.raises(ValueError, match="file not found") as info:
            encoder().fit_transform(X)
        message = str(info.value)
        if len(repr(str(path))) <= 240:
            assert repr(str(path)) in message
        else:
            assert "..." in message and path.name in message
            assert len(message) < 400
    assert len(repr(str(deep))) > 150 and len(repr(str(huge))) > 240


def test_error_mentions_the_index_label_when_it_differs(tmp_path):
    X = pd.DataFrame({"photo": [make_image(0), 5]}, index=[10, 42])
    with pytest.raises(ValueError, match=re.escape("row 1 (index 42)")):
        encoder().fit_transform(X)


def test_on_error_missing_warns_once_and_keeps_the_good_rows(tmp_path, image_paths):
    bad = bad_values(tmp_path)
    values = [image_paths[0]] + [v for v, _ in bad.values()] + [image_paths[1]]
    enc = encoder(on_error="missing")
    with pytest.warns(UnreadableValuesWarning) as record:
        X = enc.fit_transform(pd.DataFrame({"photo": values}))
    assert len(record) == 1
    assert f"{len(bad)} value(s) could not be read" in str(record[0].message)
    assert np.isnan(X[1:-1]).all()
    np.testing.assert_allclose(
        X[[0, -1]], encoder().fit_transform([image_paths[0], image_paths[1]]), atol=1e-6
    )


def test_missing_values_alone_do_not_warn(image_paths):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder(on_error="missing").fit_transform([image_paths[0], None])


def test_several_columns_are_encoded_side_by_side(image_paths):
    X = pd.DataFrame({"front": image_paths[:2], "back": image_paths[2:]})
    enc = encoder().fit(X)
    Xt = enc.transform(X)
    assert Xt.shape == (2, 128)
    np.testing.assert_allclose(Xt[:, 64:], encoder().fit_transform(image_paths[2:]))
    names = enc.get_feature_names_out()
    assert names[0] == "front_0000" and names[-1] == "back_0063"


def test_feature_names_of_one_column(image_paths):
    enc = encoder().fit(pd.DataFrame({"photo": image_paths}))
    assert enc.get_feature_names_out()[[0, -1]].tolist() == ["0000", "0063"]
    assert enc.feature_names_in_.tolist() == ["photo"]


def test_wrong_number_of_columns_at_transform(image_paths):
    enc = encoder().fit(pd.DataFrame({"a": image_paths}))
    with pytest.raises(ValueError, match="2 columns"):
        enc.transform(pd.DataFrame({"a": image_paths, "b": image_paths}))


def test_progress_bar_when_verbose(image_paths, capsys):
    # cache=False: a bar shows while encoding, and a cached vector is no work.
    encoder(verbose=True, cache=False).fit_transform(image_paths)
    assert "ImageEncoder" in capsys.readouterr().err
    encoder(cache=False).fit_transform(image_paths)
    assert "ImageEncoder" not in capsys.readouterr().err


def test_auto_device_and_batch_size_are_recorded(image_paths):
    enc = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False).fit(image_paths)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert enc.device_ == expected
    assert enc.batch_size_ == (64 if expected == "cuda" else 4)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"device": "tpu9"}, "device"),
        ({"on_error": "ignore"}, "on_error"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_workers": -1}, "num_workers"),
    ],
)
def test_invalid_parameters(params, match, image_paths):
    with pytest.raises(ValueError, match=match):
        encoder(**params).fit(image_paths)


def test_unavailable_cuda_is_an_error_at_fit():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="not available"):
        encoder(device="cuda").fit([make_image(0)])


def test_init_loads_nothing(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("model loaded in __init__")

    monkeypatch.setattr(timm, "create_model", fail)
    ImageEncoder("resnet50")


def test_paths_in_pandas_and_polars_frames(image_paths, df_module):
    frame = df_module.DataFrame({"photo": [image_paths[0], None, image_paths[1]]})
    X = encoder().fit(frame).transform(frame)
    assert np.isnan(X[1]).all()
    np.testing.assert_allclose(
        X[[0, 2]], encoder().fit_transform(image_paths[:2]), atol=1e-6
    )


def test_errors_show_the_index_label_of_a_slice():
    """df.iloc[1:] keeps a RangeIndex starting at 1: the label is shown too."""
    frame = pd.DataFrame({"photo": [make_image(0), "gone.jpg"]})
    enc = encoder().fit(frame)
    with pytest.raises(ValueError, match=r"column 'photo', row 0 \(index 1\)"):
        enc.transform(frame.iloc[1:])


def test_extreme_aspect_ratios_get_the_pixels_timm_gives():
    """Images beyond 4:1 are resized straight into the centre crop (bounded memory);
    what the model sees matches timm's resize-then-crop to within one grey level."""
    import timm.data

    entry = encoder().fit([None]).model_
    config = entry.data_config
    reference = timm.data.create_transform(**config, is_training=False)
    step = 1.0 / 255 / min(config["std"])
    rng = np.random.default_rng(0)
    for width, height in [(2000, 300), (5000, 97), (3000, 7), (640, 480)]:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        difference = (entry.transform(image) - reference(image)).abs()
        assert float(difference.max()) <= step + 1e-5
