"""Any painting as a live style, on the base install: encoding (cached), the live model, blends, bake,
the API, and clear errors for bad paintings."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from stylize import Stylizer, models
from stylize.cli import main
from stylize.realtime.core.errors import UserError
from stylize.realtime.painting_style import StyleEncoder, mix_weights, resolve_style
from stylize.realtime.core.session import StyleSession


@pytest.fixture(autouse=True)
def own_style_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))


def painting(path, seed: int = 0, size=(90, 120)):
    """A painting never seen anywhere: bold coloured strokes on a tinted ground."""
    rng = np.random.default_rng(seed)
    h, w = size
    canvas = np.full((h, w, 3), rng.integers(0, 255, 3), np.uint8)
    for _ in range(40):
        p1, p2 = rng.integers(0, [w, h], 2), rng.integers(0, [w, h], 2)
        cv2.line(canvas, tuple(int(v) for v in p1), tuple(int(v) for v in p2),
                 tuple(int(v) for v in rng.integers(0, 255, 3)), int(rng.integers(2, 7)))
    cv2.imwrite(str(path), canvas)
    return path


def test_the_live_model_ships_with_its_encoder_and_the_shipped_styles_as_vectors():
    session = StyleSession(models.LIVE_MODEL, "cpu")
    assert session.info.style_dims == 100 and session.info.has_strength
    encoder = StyleEncoder()
    assert encoder.encode_image(np.zeros((40, 50, 3), np.uint8)).shape == (100,)
    for name in models.style_names():
        assert resolve_style(name).vector.shape == (100,)


def test_a_painting_never_seen_stylizes_end_to_end_without_torch(tmp_path, photo):
    """`stylize image --style PAINTING` on the base install: torch is made unimportable."""
    art = painting(tmp_path / "art.png")
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    code = ("import sys; sys.modules['torch'] = None; from stylize.cli import main; "
            f"sys.exit(main(['image', {str(tmp_path / 'photo.png')!r}, '-o', {str(tmp_path / 'out')!r}, "
            f"'--style', {str(art)!r}, '--device', 'cpu']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = cv2.imread(str(tmp_path / "out" / "photo_art.png"))
    assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 10  # painted, not the photo
    default = StyleSession(models.LIVE_MODEL, "cpu").run(photo)
    assert np.abs(out.astype(int) - default).mean() > 2  # the painting's style, not the default one


def test_a_painting_is_encoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    art = painting(tmp_path / "art.jpg", seed=1)
    encoder = StyleEncoder()
    first = encoder.encode(art)
    monkeypatch.setattr(StyleEncoder, "encode_image", lambda self, bgr: pytest.fail("encoded twice"))
    np.testing.assert_array_equal(encoder.encode(art), first)
    assert len(list((tmp_path / "cache" / "styles").glob("*.npy"))) == 1


@pytest.mark.parametrize("entry", [
    np.full(100, np.nan, np.float32), np.full(100, 1e30, np.float32), np.zeros(7, np.float32),
    np.zeros(100, np.float64), np.zeros(10 ** 6, np.float32), np.zeros((10, 10), np.float32), b"garbage", b"",
    # a small file whose header declares 10^12 float32 values (reading it whole would need 3.6 TiB)
    b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }" + b" " * 51 + b"\n"
    + b"\x00" * 400])
def test_a_cache_entry_that_is_not_the_encoders_output_is_encoded_again(tmp_path, entry):
    """Damaged, poisoned or oversized entries (NaN, huge values, other sizes, a 4 MB array) are a miss:
    the painting is encoded again and the entry replaced, never loaded whole or painted with."""
    art = painting(tmp_path / "art.jpg", seed=5)
    encoder = StyleEncoder()
    expected = encoder.encode(art)
    (cached,) = (tmp_path / "cache" / "styles").glob("*.npy")
    if isinstance(entry, bytes):
        cached.write_bytes(entry)
    else:
        np.save(cached, entry)
    np.testing.assert_array_equal(encoder.encode(art), expected)
    np.testing.assert_array_equal(np.load(cached), expected)


def test_the_baked_model_equals_the_live_model_with_that_vector(tmp_path, photo):
    art = painting(tmp_path / "art.png", seed=2)
    baked = tmp_path / "art.onnx"
    assert main(["bake", str(art), "-o", str(baked)]) == 0
    session = StyleSession(baked, "cpu")
    assert session.info.style_dims == 0 and session.info.style == "art"  # a plain v1 model
    assert "sha256" in session.info.metadata["stylize.paintings"]
    live = StyleSession(models.LIVE_MODEL, "cpu")
    vector = StyleEncoder().encode(art)
    for frame in (photo, photo[:37, :51]):
        assert np.abs(session.run(frame).astype(int) - live.run(frame, 1.0, vector)).max() <= 1
    assert main(["bake", str(art), "-o", str(baked)]) == 2  # an existing file needs --overwrite


def test_a_mix_of_weights_one_and_zero_equals_the_first_style(tmp_path, photo):
    a, b = painting(tmp_path / "a.png", seed=3), painting(tmp_path / "b.png", seed=4)
    alone = Stylizer(style=str(a), device="cpu").frame(photo)
    mixed = Stylizer(style=[str(a), str(b)], mix=[1, 0], device="cpu").frame(photo)
    other = Stylizer(style=[str(a), str(b)], mix=[0, 1], device="cpu").frame(photo)
    np.testing.assert_array_equal(alone, mixed)
    assert np.abs(mixed.astype(int) - other).mean() > 1
    np.testing.assert_allclose(mix_weights([3, 1], 2), [0.75, 0.25])
    with pytest.raises(UserError, match="one weight per --style"):
        Stylizer(style=[str(a), str(b)], mix=[1, 0, 0], device="cpu")


@pytest.mark.parametrize("weights,expected", [([1e308, 1e308], [0.5, 0.5]), ([1e308, 0], [1, 0]),
                                              ([5e-324, 5e-324], [0.5, 0.5])])
def test_extreme_mix_weights_keep_their_proportions(weights, expected):
    np.testing.assert_allclose(mix_weights(weights, 2), expected)


@pytest.mark.parametrize("weights", [["a"], [None], [float("nan")], [-1], [0]])
def test_mix_weights_that_are_not_usable_numbers_are_a_message(weights):
    with pytest.raises(UserError, match="--mix"):
        mix_weights(weights, 1)


def test_shipped_style_names_are_styles_of_the_live_model(tmp_path, photo):
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--style", "candy",
                 "--style", "mosaic", "--mix", "0.5,0.5"]) == 0
    assert (tmp_path / "out" / "p_candy+mosaic.png").is_file()


def test_grey_and_transparent_paintings_work(tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), cv2.cvtColor(cv2.imread(str(painting(tmp_path / "g.png", 5))), cv2.COLOR_BGR2GRAY))
    rgba = cv2.cvtColor(cv2.imread(str(painting(tmp_path / "t.png", 6))), cv2.COLOR_BGR2BGRA)
    rgba[:, :60, 3] = 0
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    encoder = StyleEncoder()
    for path in (grey, tmp_path / "alpha.png"):
        assert np.isfinite(encoder.encode(path)).all()


@pytest.mark.parametrize("kind, message", [
    ("text", "not a readable image"),
    ("tiny", "too small for a painting"),
    ("huge", "over the limit"),
    ("missing", "no such painting file and no shipped style"),
])
def test_bad_paintings_are_one_line_errors(tmp_path, photo, kind, message, capsys):
    bad = tmp_path / f"bad_{kind}.png"
    if kind == "text":
        bad.write_text("not a painting")
    elif kind == "tiny":
        cv2.imwrite(str(bad), np.zeros((1, 1, 3), np.uint8))
    elif kind == "huge":
        from tests.realtime.test_reliability import png_claiming

        png_claiming(bad, 50_000, 50_000)
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--style", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("stylize image: error:") and "Traceback" not in "".join(err)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_style_on_a_fixed_model_and_mix_without_styles_are_clear_errors(tmp_path, negative_model, photo, capsys):
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    art = painting(tmp_path / "art.png")
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "o"), "-m", str(negative_model),
                 "--style", str(art)]) == 2
    assert "paints one fixed style" in capsys.readouterr().err
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "o"), "--mix", "1,2"]) == 2
    assert "--mix blends --style paintings" in capsys.readouterr().err


def test_int8_is_picked_only_where_it_pays(monkeypatch):
    from stylize.realtime import model_lookup
    from stylize.realtime.core import providers

    assert providers.int8_pays("processor : 0\nflags : fpu sse2 avx512f avx512_vnni\n")
    assert providers.int8_pays("flags : fpu avx2 avx_vnni")
    assert not providers.int8_pays("flags : fpu sse2 avx2 avx512f")
    assert not providers.int8_pays("")
    if not models.LIVE_MODEL_INT8.is_file():
        pytest.skip("no int8 live model shipped")
    monkeypatch.setattr(model_lookup, "int8_pays", lambda: True)
    assert model_lookup.open_live_session(None, "cpu", 1, "auto").info.path == models.LIVE_MODEL_INT8
    assert model_lookup.open_live_session(None, "cpu", 1).info.path == models.LIVE_MODEL  # fp32 by default
    monkeypatch.setattr(model_lookup, "int8_pays", lambda: False)
    assert model_lookup.open_live_session(None, "cpu", 1, "auto").info.path == models.LIVE_MODEL


def test_the_int8_live_model_stays_close_to_fp32(photo):
    from stylize.realtime.graph.quantize import INT8_MIN_PSNR, psnr

    if not models.LIVE_MODEL_INT8.is_file():
        pytest.skip("no int8 live model shipped")
    int8, fp32 = StyleSession(models.LIVE_MODEL_INT8, "cpu"), StyleSession(models.LIVE_MODEL, "cpu")
    assert int8.info.metadata["stylize.precision"] == "int8" and int8.info.style_dims == 100
    for name in ("candy", "udnie"):
        vector = resolve_style(name).vector
        assert psnr(int8.run(photo, 1.0, vector), fp32.run(photo, 1.0, vector)) > INT8_MIN_PSNR - 5


def test_an_existing_output_is_refused_before_the_painting_is_encoded(tmp_path, photo, monkeypatch, capsys):
    from stylize.realtime import painting_style

    cv2.imwrite(str(tmp_path / "p.png"), photo)
    (tmp_path / "out.png").write_bytes(b"mine")
    monkeypatch.setattr(painting_style.StyleEncoder, "encode", lambda *a: pytest.fail("encoded before the check"))
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "out.png"),
                 "--style", str(painting(tmp_path / "art.png", seed=8))]) == 2
    assert "already exists" in capsys.readouterr().err and (tmp_path / "out.png").read_bytes() == b"mine"


def test_a_video_given_as_a_painting_is_refused_at_its_header_before_hashing(tmp_path, clip, monkeypatch):
    from stylize.realtime import painting_style

    monkeypatch.setattr(painting_style, "file_digest", lambda path: pytest.fail("hashed before the header check"))
    with pytest.raises(UserError, match="clip.mp4"):
        resolve_style(str(clip))
