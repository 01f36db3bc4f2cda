import json

import cv2
import numpy as np
import pytest
import torch

from stylize.export.gatys import GatysSettings, content_loss, gram, style_layer_loss, stylize
from stylize.cli import main
from stylize.realtime.core.errors import UserError


@pytest.fixture
def content_image(tmp_path):
    yy, xx = np.mgrid[0:64, 0:80]
    img = np.stack([((xx // 16 + yy // 16) % 2) * 200 + 20, xx * 3, 255 - yy * 3], -1).astype(np.uint8)
    path = tmp_path / "content.png"
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def second_style(tmp_path):
    rng = np.random.default_rng(3)
    img = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (64, 64), interpolation=cv2.INTER_NEAREST)
    img[..., 0] = 230  # strongly blue blocks
    path = tmp_path / "blocks.png"
    cv2.imwrite(str(path), img)
    return path


def test_gram_and_losses_follow_the_paper():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    assert torch.equal(gram(f), torch.tensor([[5.0, 11.0], [11.0, 25.0]]))
    g = gram(torch.randn(1, 6, 5, 4))
    assert torch.allclose(g, g.t()) and torch.linalg.eigvalsh(g).min() > -1e-4
    # E = 1/(4 N^2 M^2) sum (G - A)^2 with N = 2 filters and M = 2 positions
    assert style_layer_loss(f, torch.zeros(2, 2)) == pytest.approx((25 + 121 + 121 + 625) / (4 * 4 * 4))
    assert content_loss(f, torch.zeros_like(f)) == pytest.approx(0.5 * (1 + 4 + 9 + 16))


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_loss_falls_for_each_optimizer(tmp_path, content_image, style_image, optimizer):
    settings = GatysSettings(size=64, iterations=8, optimizer=optimizer, lr=0.05, style_weight=10.0, init="noise")
    summary = stylize(str(content_image), [str(style_image)], str(tmp_path / "out.png"), settings, progress=False)
    totals = [h["total"] for h in summary["history"]]
    assert totals[-1] < totals[0]
    assert cv2.imread(str(tmp_path / "out.png")).shape == (51, 64, 3)
    saved = json.loads((tmp_path / "out.png.json").read_text())
    assert len(saved["history"]) == 8 and saved["settings"]["optimizer"] == optimizer


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_gatys_with_vgg16_descends_without_blowing_up(tmp_path, content_image, style_image, optimizer):
    import torchvision

    torch.manual_seed(0)
    weights = tmp_path / "vgg16.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), weights)  # random weights, real code path
    settings = GatysSettings(backbone="vgg16", size=64, iterations=12, optimizer=optimizer, lr=0.02,
                             style_weight=1000.0, init="noise")
    summary = stylize(str(content_image), [str(style_image)], str(tmp_path / "out.png"), settings,
                      backbone_weights=str(weights), progress=False)
    totals = [h["total"] for h in summary["history"]]
    assert all(np.isfinite(totals)) and totals[-1] < 0.5 * totals[0]
    if optimizer == "lbfgs":  # every accepted line-search step lowers the objective
        assert all(b <= a * (1 + 1e-5) for a, b in zip(totals, totals[1:])), totals


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_content_and_style_the_same_picture_gives_that_picture(tmp_path, content_image, optimizer):
    """The start already matches: rounding noise once became the loss, and the pixels NaN (a black image)."""
    settings = GatysSettings(size=64, iterations=4, optimizer=optimizer, lr=0.01)
    summary = stylize(str(content_image), [str(content_image)], str(tmp_path / "out.png"), settings, progress=False)
    assert all(np.isfinite([h["total"] for h in summary["history"]]))
    result, content = cv2.imread(str(tmp_path / "out.png")).astype(int), cv2.imread(str(content_image))
    assert np.abs(result - cv2.resize(content, result.shape[1::-1], interpolation=cv2.INTER_AREA)).mean() < 6


def test_pixels_that_turn_nan_are_refused_and_nothing_is_written(tmp_path, content_image, style_image, monkeypatch):
    from stylize.export import gatys

    original = gatys.GatysObjective.__call__
    calls = []

    def poisoned(self, image):  # from the third evaluation on: mid-run, inside the optimisation loop
        calls.append(1)
        terms = original(self, image)
        return {**terms, "style": terms["style"] * float("nan")} if len(calls) > 2 else terms

    monkeypatch.setattr(gatys.GatysObjective, "__call__", poisoned)
    with pytest.raises(UserError, match="diverged"):
        stylize(str(content_image), [str(style_image)], str(tmp_path / "out.png"),
                GatysSettings(size=64, iterations=3, optimizer="adam"), progress=False)
    assert not list(tmp_path.glob("out*"))


def test_original_colors_keep_the_content_chroma(tmp_path, content_image, style_image):
    settings = GatysSettings(size=64, iterations=5, style_weight=10.0, original_colors=True)
    stylize(str(content_image), [str(style_image)], str(tmp_path / "o.png"), settings, progress=False)
    out = cv2.cvtColor(cv2.imread(str(tmp_path / "o.png")), cv2.COLOR_BGR2YCrCb).astype(int)
    content = cv2.resize(cv2.imread(str(content_image)), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_AREA)
    ref = cv2.cvtColor(content, cv2.COLOR_BGR2YCrCb).astype(int)
    assert np.abs(out[..., 1:] - ref[..., 1:]).mean() < 2.0


def test_blend_weights_move_the_result_between_styles(tmp_path, content_image, style_image, second_style):
    def run(weights, name):
        settings = GatysSettings(size=64, iterations=10, style_weight=20.0, style_blend=weights, init="noise")
        stylize(str(content_image), [str(style_image), str(second_style)], str(tmp_path / name), settings,
                progress=False)
        return cv2.imread(str(tmp_path / name)).astype(float)

    towards_first, towards_second = run([1.0, 0.0], "a.png"), run([0.0, 1.0], "b.png")
    middle = run([0.5, 0.5], "m.png")
    blue = [img[..., 0].mean() for img in (towards_first, middle, towards_second)]
    assert blue[0] < blue[1] < blue[2]


def test_intermediate_images(tmp_path, content_image, style_image):
    settings = GatysSettings(size=48, iterations=4, save_every=2, levels=1)
    stylize(str(content_image), [str(style_image)], str(tmp_path / "r.png"), settings, progress=False)
    assert (tmp_path / "r_iter0002.png").is_file() and (tmp_path / "r_iter0004.png").is_file()


def test_coarse_to_fine(tmp_path, content_image, style_image):
    settings = GatysSettings(size=64, iterations=6, levels=2)
    summary = stylize(str(content_image), [str(style_image)], str(tmp_path / "c.png"), settings, progress=False)
    assert [h["size"] for h in summary["history"]] == [32, 32, 32, 64, 64, 64]


@pytest.mark.parametrize("case,message", [
    ("missing", "no such image file"),
    ("corrupt", "not a readable image"),
    ("blend", "2 style images but 1 --style-blend"),
    ("small", "--size: 16: must be at least 32"),
])
def test_bad_input_is_a_clear_message(tmp_path, content_image, style_image, case, message, capsys):
    args = ["gatys", "--content", str(content_image), "--style", str(style_image), "-o", str(tmp_path / "x.png"),
            "--size", "64", "--iterations", "1"]
    if case == "missing":
        args[2] = str(tmp_path / "nope.jpg")
    elif case == "corrupt":
        (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
        args[4] = str(tmp_path / "bad.jpg")
    elif case == "blend":
        args[4:5] = [str(style_image), str(style_image)]
        args += ["--style-blend", "1"]
    elif case == "small":
        args[args.index("64")] = "16"
    try:
        code = main(args)
    except SystemExit as exit_info:  # options out of range stop at parse time
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_existing_output_is_kept(tmp_path, content_image, style_image):
    out = tmp_path / "keep.png"
    out.write_bytes(b"mine")
    with pytest.raises(UserError, match="--overwrite"):
        stylize(str(content_image), [str(style_image)], str(out), GatysSettings(size=64, iterations=1), progress=False)
    assert out.read_bytes() == b"mine"


def test_eval_report_on_tiny_inputs(tmp_path, content_image, style_image, negative_model, capsys):
    report = tmp_path / "report"
    args = ["eval", "--model", str(negative_model), "--style", str(style_image), "--content", str(content_image),
            "-o", str(report), "--size", "48", "--iterations", "3"]
    assert main(args) == 0
    summary = json.loads((report / "summary.json").read_text())
    row = summary["photos"][0]
    for key in ("fast", "gatys"):
        assert set(row[key]) == {"content", "style", "seconds"} and row[key]["seconds"] > 0
    # the negative 'model' destroys the content: far worse content than the Gatys reference
    assert row["content_ratio"] > 1 and np.isfinite(row["style_ratio"])
    panel = cv2.imread(str(report / "content_compare.png"))
    assert panel.shape[1] == 3 * 48
    assert "mean: style" in capsys.readouterr().out
    assert main(args) == 2  # an existing report needs --overwrite
    assert main(args[:-4] + ["-o", str(tmp_path / "r2"), "--content", str(tmp_path / "none.png")]) == 2
