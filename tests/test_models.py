"""Every shipped model follows the contract, runs at two sizes, says how it was made, and has a
look of its own."""
import json
from pathlib import Path

import numpy as np
import pytest

from stylize import models
from stylize.realtime.core import contract
from stylize.realtime.core.session import StyleSession

SHIPPED = models.shipped_models()
SAMPLES = Path(__file__).resolve().parents[1] / "realtime" / "samples"


def test_default_style_is_shipped():
    assert models.DEFAULT_STYLE in models.style_names()
    assert models.locate(models.DEFAULT_STYLE) == SHIPPED[models.DEFAULT_STYLE]


def test_style_names_are_found_with_hyphens_too():
    name = next(n for n in models.style_names() if "_" in n)
    assert models.locate(name.replace("_", "-")) == models.locate(name) is not None
    assert models.locate("no-such-style") is None


def test_models_folder_stays_small():
    assert sum(p.stat().st_size for p in models.MODELS_DIR.iterdir() if p.is_file()) < 40 * 2**20


def scene(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([127 + 100 * np.sin(xx / 13.0), 127 + 100 * np.cos(yy / 9.0), (xx + yy) % 256], -1)
    return img.astype(np.uint8)


@pytest.fixture(scope="module")
def outputs() -> dict[str, np.ndarray]:
    frame = scene(120, 160)
    return {name: StyleSession(path, "cpu").run(frame) for name, path in SHIPPED.items()}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_contract_and_metadata(name):
    session = StyleSession(SHIPPED[name], "cpu")
    info = session.info
    assert info.io_layout == contract.IO_UINT8_BGR and info.has_strength
    assert info.backbone in ("vgg16", "effnet-lite0")
    assert info.settings["trained_steps"] > 0
    if name == models.LIVE_MODEL.stem:  # any painting: a style input, with a default style
        assert info.style_dims == 100 and info.settings["held_out_paintings"]
        assert json.loads(info.metadata[contract.META_PAINTINGS])[0]["sha256"]
    else:
        assert info.settings["style"] and name.removesuffix(models.QUALITY_SUFFIX) == info.style
    for h, w in ((480, 640), (97, 131)):
        frame = scene(h, w)
        out = session.run(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert np.array_equal(session.run(frame, 0.0), frame)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_has_a_look_of_its_own(name, outputs):
    frame = scene(120, 160).astype(int)
    assert np.abs(outputs[name].astype(int) - frame).mean() > 10
    for other, out in outputs.items():
        if other.removesuffix(models.QUALITY_SUFFIX) != name.removesuffix(models.QUALITY_SUFFIX):
            assert np.abs(outputs[name].astype(int) - out).mean() > 5, f"{name} looks like {other}"


@pytest.fixture(scope="module")
def varied_photos() -> list[np.ndarray]:
    """The sample photos, whole and cropped two ways, each also upside down: pictures whose top rows
    show sky, ground, a cup or a cat."""
    import cv2

    from stylize.realtime.core.images import read_image

    photos = []
    for path in sorted(SAMPLES.glob("*.jpg")):
        image = read_image(path)
        h, w = image.shape[:2]
        for crop in (image, image[: h * 2 // 3, : w * 2 // 3], image[h // 3:, w // 3:]):
            frame = cv2.resize(crop, (320, 240), interpolation=cv2.INTER_AREA)
            photos += [frame, np.ascontiguousarray(frame[::-1])]
    return photos


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_no_style_paints_the_same_band_along_the_top_or_bottom_of_every_picture(name, varied_photos):
    """Over different pictures the rows next to the edge must vary about as much as the middle rows
    do: the_scream once painted an orange striped band across the top of every frame (0.48 here;
    every style now 0.65 or more)."""
    session = StyleSession(SHIPPED[name], "cpu")
    outputs = np.stack([session.run(photo).astype(np.float32) for photo in varied_photos])
    spread = {band: outputs[:, rows].std(axis=0).mean() for band, rows in
              (("top", slice(0, 8)), ("middle", slice(116, 124)), ("bottom", slice(-8, None)))}
    assert spread["top"] >= 0.6 * spread["middle"], spread
    assert spread["bottom"] >= 0.6 * spread["middle"], spread


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_model_has_an_int8_copy_close_to_it(name):
    from stylize.realtime.graph.quantize import psnr

    copy = models.int8_copy(SHIPPED[name])
    assert copy is not None and copy.parent == models.INT8_DIR
    int8, fp32 = StyleSession(copy, "cpu"), StyleSession(SHIPPED[name], "cpu")
    assert int8.info.metadata[contract.META_PRECISION] == "int8" and int8.info.style == fp32.info.style
    frame = scene(97, 131)  # a saturated synthetic pattern: the hardest case (photos: >= 35 dB at build)
    assert psnr(int8.run(frame), fp32.run(frame)) > 25
    assert np.array_equal(int8.run(frame, 0.0), frame)


def test_precision_picks_the_file(monkeypatch):
    from stylize.realtime import model_lookup
    from stylize.realtime.core.errors import UserError

    candy = SHIPPED[models.DEFAULT_STYLE]
    monkeypatch.setattr(model_lookup, "int8_pays", lambda: True)
    assert model_lookup.with_precision(candy, "cpu", "auto") == models.INT8_DIR / candy.name
    assert model_lookup.with_precision(candy, "cpu") == candy  # fp32 unless asked: int8 flickers more
    monkeypatch.setattr(model_lookup, "int8_pays", lambda: False)
    assert model_lookup.with_precision(candy, "cpu", "auto") == candy  # no VNNI: fp32
    assert model_lookup.with_precision(candy, "cpu", "int8") == models.INT8_DIR / candy.name
    with pytest.raises(UserError, match="no int8 copy"):
        model_lookup.with_precision(models.MODELS_DIR.parent / "elsewhere.onnx", "cpu", "int8")


@pytest.mark.parametrize("path", [models.LIVE_MODEL, models.LIVE_MODEL_INT8], ids=["fp32", "int8"])
def test_the_live_model_paints_the_default_styles_shipped_vector_when_given_no_style(path):
    """The live model's built-in style is the default style's vector in styles.json (refined against
    its own net), in both precisions: the two files and the style list cannot drift apart."""
    from stylize.realtime.painting_style import resolve_style

    session, frame = StyleSession(path, "cpu"), scene(48, 64)
    given = session.run(frame, 1.0, resolve_style(models.DEFAULT_STYLE).vector)
    np.testing.assert_array_equal(session.run(frame), given)


def test_every_shipped_styles_vector_is_refined_from_its_paintings_prediction():
    """styles.json keeps, per shipped style, the style-prediction net's vector of its painting
    ("encoded": what a refinement starts from) and how the vector was refined against its own net."""
    from stylize.realtime.painting_style import shipped_style_vectors

    styles = shipped_style_vectors()
    assert set(styles) == set(models.style_names())
    for name, entry in styles.items():
        assert len(entry["vector"]) == len(entry["encoded"]) == 100
        assert entry["vector"] != entry["encoded"]
        assert entry["refined"]["gram_error_after"] < entry["refined"]["gram_error_before"], name
        assert entry["refined"]["settings"]["steps"] > 0


def test_the_live_net_is_refined_for_the_default_style_with_every_other_style_held():
    """The live net was refined for the default style after training (scripts/refine_live_styles.py
    --net-steps): the model's metadata and styles.json say how, the style came closer to its own net's
    texture, and the other shipped styles and every training painting were held (their paintings moved
    by under 2% of the range)."""
    from stylize.realtime.painting_style import shipped_style_vectors

    styles = shipped_style_vectors()
    paintings = json.loads(StyleSession(models.LIVE_MODEL, "cpu").info.metadata[contract.META_PAINTINGS])
    for path in (models.LIVE_MODEL, models.LIVE_MODEL_INT8):
        record = json.loads(StyleSession(path, "cpu").info.metadata[contract.META_NET_REFINED])
        assert record == {"style": models.DEFAULT_STYLE, **styles[models.DEFAULT_STYLE]["net_refined"]}
    assert record["gram_error_after"] < record["gram_error_before"]
    assert record["teacher_difference_after"] < record["teacher_difference_before"]
    assert all(earlier["settings"]["steps"] > 0 for earlier in record.get("earlier", []))
    assert record["held_styles"] == len(styles) - 1 + len(paintings)
    assert record["held_change"] < 0.02
    assert record["settings"]["steps"] > 0
