"""Built-in datasets, load_dataset (split, normalisation), augmentation, compatibility, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.data import (DATASETS, DataError, augment_batch, check_compatible, describe, generate,
                         load_dataset)

SMALL = 40


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_builtin_generates_its_declared_shapes_deterministically(name):
    x, y, info = generate(name, {"samples": SMALL}, seed=3)
    assert x.shape == (SMALL, *info.input_shape)
    assert x.dtype == (np.int64 if info.input_dtype == "long" else np.float32)
    assert y.shape == (SMALL, *info.target_shape)
    if info.target_kind == "class":
        assert y.dtype == np.int64
        assert 0 <= y.min() and y.max() < info.num_classes
    else:
        assert y.dtype == np.float32 and np.isfinite(y).all()
    if info.input_dtype == "long":
        assert 0 <= x.min() and x.max() < max(info.num_classes, 1)
    assert describe(name, {"samples": SMALL}) == info
    x2, y2, _ = generate(name, {"samples": SMALL}, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _, _ = generate(name, {"samples": SMALL}, seed=4)
    assert not np.array_equal(x, x3)


def test_declared_shapes_of_defaults():
    assert describe("spiral").input_shape == (2,) and describe("spiral").kind == "points2d"
    assert describe("sine").target_shape == (1,) and describe("sine").kind == "curve1d"
    assert describe("shapes").input_shape == (1, 28, 28) and describe("shapes").num_classes >= 6
    assert describe("shapes_color").input_shape == (3, 32, 32)
    assert describe("digits").class_names == tuple("0123456789")
    assert describe("anbn", {"max_n": 8}).input_shape == (18, 3)
    assert describe("anbncn", {"max_n": 4}).input_shape == (14, 4)
    assert describe("anbn", {"encoding": "ids"}).input_shape == (22,)
    assert describe("adding").input_shape == (50, 2)
    copy = describe("copy")
    assert copy.input_shape == (70, 10) and copy.class_names == ("_", *"12345678", ":")
    gt = describe("grammar_text")
    assert gt.input_dtype == "long" and gt.kind == "text" and gt.target_shape == gt.input_shape
    video = describe("bouncing_shapes", {"frames": 8, "size": 16})
    assert video.input_shape == (8, 1, 16, 16) and video.target_shape == (1, 16, 16)
    assert video.target_kind == "value" and video.kind == "video"


def test_anbn_and_anbncn_targets_are_the_next_symbol():
    for name, letters in (("anbn", 2), ("anbncn", 3)):
        max_n = 5
        x, y, info = generate(name, {"samples": 50, "max_n": max_n, "encoding": "ids"}, seed=1)
        onehot, _, _ = generate(name, {"samples": 50, "max_n": max_n}, seed=1)
        np.testing.assert_array_equal(onehot.argmax(-1), x)
        end = info.class_names.index("$")
        length = letters * max_n + 2
        for row, target in zip(x, y):
            n = int((row == 0).sum())
            expected = sum(([k] * n for k in range(letters)), []) + [end] * (length - letters * n)
            assert row.tolist() == expected
            assert target.tolist() == expected[1:] + [end]
        assert {int((r == 0).sum()) for r in x} >= {1, max_n}


def test_anbn_hand_example():
    x, y, info = generate("anbn", {"samples": 200, "max_n": 3, "encoding": "ids"}, seed=0)
    row = next(i for i in range(200) if (x[i] == 0).sum() == 2)
    letters = "".join(info.class_names[i] for i in x[row])
    assert letters == "aabb$$$$"
    assert "".join(info.class_names[i] for i in y[row]) == "abb$$$$$"


def test_adding_target_is_the_sum_of_the_marked_values():
    x, y, _ = generate("adding", {"samples": 100, "length": 20}, seed=2)
    assert ((x[:, :, 1] == 1).sum(1) == 2).all()
    assert set(np.unique(x[:, :, 1])) == {0.0, 1.0}
    expected = np.array([row[row[:, 1] == 1, 0].sum() for row in x])
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)


def test_parity_target():
    x, y, info = generate("parity", {"samples": 100, "length": 7}, seed=0)
    assert info.class_names == ("even", "odd")
    np.testing.assert_array_equal(y, x[:, :, 0].sum(1).astype(int) % 2)


def test_copy_targets_repeat_the_symbols_after_the_delimiter():
    lag, m, k = 6, 3, 4
    x, y, info = generate("copy", {"samples": 30, "lag": lag, "copy_len": m, "n_symbols": k,
                                   "encoding": "ids"}, seed=5)
    assert x.shape == (30, m + lag + m)
    delim = info.class_names.index(":")
    for row, target in zip(x, y):
        symbols = row[:m].tolist()
        assert all(1 <= s <= k for s in symbols)
        assert row.tolist() == symbols + [0] * (lag - 1) + [delim] + [0] * m
        assert target.tolist() == [0] * (m + lag) + symbols


def test_xor_quadrants():
    x, y, _ = generate("xor", {"samples": 400, "noise": 0.0}, seed=0)
    assert set(y[(x[:, 0] > 0) & (x[:, 1] > 0)]) == {0}
    assert set(y[(x[:, 0] < 0) & (x[:, 1] < 0)]) == {0}
    assert set(y[(x[:, 0] < 0) & (x[:, 1] > 0)]) == {1}
    assert set(y[(x[:, 0] > 0) & (x[:, 1] < 0)]) == {1}


def test_sine_forecast_target_continues_the_wave():
    x, y, _ = generate("sine_forecast", {"samples": 20, "length": 12, "noise": 0.0}, seed=0)
    s = x[:, :, 0].astype(np.float64)
    for row, target in zip(s, y[:, 0]):
        # A pure sine obeys s[t+1] = 2 cos(w) s[t] - s[t-1]; fit cos(w) on the window.
        c = np.linalg.lstsq(2 * row[1:-1, None], row[2:] + row[:-2], rcond=None)[0][0]
        assert abs(2 * c * row[-1] - row[-2] - target) < 1e-4


def test_grammar_text_targets_and_balanced_brackets():
    x, y, info = generate("grammar_text", {"samples": 60, "seq_len": 40}, seed=0)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    np.testing.assert_array_equal(y[:-1, -1], x[1:, 0])  # windows are consecutive
    text = "".join(info.class_names[i] for i in x.ravel())
    lines = text.split(";\n")[:-1]
    assert len(lines) > 10
    for line in lines:
        depth = 0
        for ch in line.replace('"', ""):
            depth += (ch in "([") - (ch in ")]")
            assert depth >= 0
        assert depth == 0 and line.count('"') % 2 == 0


def test_bouncing_shapes_move_and_stay_in_the_frame():
    x, y, _ = generate("bouncing_shapes", {"samples": 20, "frames": 6, "size": 16}, seed=0)
    assert 0 <= x.min() and x.max() <= 1 and 0 <= y.min() and y.max() <= 1
    ink = x.sum(axis=(2, 3, 4))
    assert (ink > 3).all() and (y.sum(axis=(1, 2, 3)) > 3).all()
    assert (np.abs(x[:, 1:] - x[:, :-1]).sum(axis=(2, 3, 4)) > 0.5).all()


@pytest.mark.parametrize("name", ["shapes", "shapes_color", "digits"])
def test_images_are_drawn_and_classes_differ(name):
    x, y, info = generate(name, {"samples": 800, "noise": 0.0}, seed=0)
    assert (x.reshape(len(x), -1).max(1) > 0.5).all()
    assert (x.reshape(len(x), -1).mean(1) < 0.6).all()
    # A nearest-class-mean classifier, fitted on half and scored on the other half, must
    # beat chance by far: the classes look different.
    flat = x.reshape(len(x), -1)
    means = np.stack([flat[:400][y[:400] == k].mean(0) for k in range(info.num_classes)])
    guess = ((flat[400:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (guess == y[400:]).mean() > 2.5 / info.num_classes


def test_image_autoencoder_target_is_the_image():
    x, y, info = generate("shapes", {"samples": 20, "target": "input"})
    np.testing.assert_array_equal(x, y)
    assert info.target_kind == "value" and info.target_shape == (1, 28, 28)


def test_bad_params_name_the_dataset_and_param():
    with pytest.raises(DataError, match="Dataset 'spiral' has no parameter 'colour'; it takes samples"):
        generate("spiral", {"colour": 1})
    with pytest.raises(DataError, match="Dataset 'spiral' parameter 'noise' must be at most 1"):
        load_dataset({"name": "spiral", "params": {"noise": 3.0}})
    with pytest.raises(DataError, match="parameter 'max_n' must be a whole number"):
        generate("anbn", {"max_n": 2.5})
    with pytest.raises(DataError, match="no built-in dataset 'spirall'. Did you mean 'spiral'"):
        load_dataset({"name": "spirall"})
    with pytest.raises(DataError, match="unknown entry 'seed'"):
        load_dataset({"name": "spiral", "seed": 3})


def test_split_is_deterministic_per_seed():
    a = load_dataset({"name": "blobs", "params": {"samples": 100}}, seed=1, val_fraction=0.25)
    b = load_dataset({"name": "blobs", "params": {"samples": 100}}, seed=1, val_fraction=0.25)
    c = load_dataset({"name": "blobs", "params": {"samples": 100}}, seed=2, val_fraction=0.25)
    assert len(a.x_train) == 75 and len(a.x_val) == 25
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    assert a.y_train.dtype == np.int64 and a.x_train.dtype == np.float32


def test_normalisation_uses_the_training_split_only():
    ref = {"name": "polynomial", "params": {"samples": 200, "degree": 2}}
    raw_x, _, _ = generate(ref["name"], ref["params"], seed=0)
    d = load_dataset(ref, seed=0, val_fraction=0.5)
    raw_train = d.x_train * d.std + d.mean
    raw_val = d.x_val * d.std + d.mean
    np.testing.assert_allclose(d.mean, raw_train.mean(0), atol=1e-5)
    np.testing.assert_allclose(d.std, raw_train.std(0), atol=1e-5)
    assert abs(d.mean[0] - raw_x.mean()) > 1e-4       # not the statistics of all samples
    assert abs(d.x_val.mean()) > 1e-4                 # validation is not centred on itself
    # Every restored sample is one of the generated ones.
    np.testing.assert_allclose(np.sort(np.concatenate([raw_train, raw_val]).ravel()), np.sort(raw_x.ravel()),
                               atol=1e-5)


def test_images_are_normalised_per_channel():
    d = load_dataset({"name": "shapes_color", "params": {"samples": 200}}, seed=0)
    assert d.mean.shape == (3, 1, 1) and d.std.shape == (3, 1, 1)
    np.testing.assert_allclose(d.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(d.x_train.std(axis=(0, 2, 3)), 1, atol=1e-3)


def test_sequences_text_and_video_are_not_normalised():
    for name in ("anbn", "adding", "grammar_text", "bouncing_shapes"):
        d = load_dataset({"name": name, "params": {"samples": 20}})
        assert d.mean is None and d.std is None, name
    d = load_dataset({"name": "anbn", "params": {"samples": 20}})
    assert set(np.unique(d.x_train)) == {0.0, 1.0}


def test_augment_options_are_checked_and_kept():
    d = load_dataset({"name": "shapes", "params": {"samples": 20}, "augment": {"flip": True, "crop": 3}})
    assert d.augment == {"flip": True, "crop": 3}
    with pytest.raises(DataError, match="images only; dataset 'spiral' gives points2d"):
        load_dataset({"name": "spiral", "augment": {"flip": True}})
    with pytest.raises(DataError, match="Unknown augmentation option 'rotate'"):
        load_dataset({"name": "shapes", "params": {"samples": 20}, "augment": {"rotate": 10}})
    with pytest.raises(DataError, match="'crop' must be a whole number of pixels from 0 to 14"):
        load_dataset({"name": "shapes", "params": {"samples": 20}, "augment": {"crop": 20}})


def _batch():
    return torch.arange(64 * 2 * 5 * 6, dtype=torch.float32).reshape(64, 2, 5, 6)


def test_augment_flip_flips_some_samples_exactly():
    xb = _batch()
    out = augment_batch(xb, {"flip": True}, torch.Generator().manual_seed(0))
    assert out.shape == xb.shape
    flipped = [bool(torch.equal(o, x.flip(-1))) for o, x in zip(out, xb)]
    kept = [bool(torch.equal(o, x)) for o, x in zip(out, xb)]
    assert all(f != k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_augment_crop_shifts_a_zero_padded_window():
    xb = _batch()
    pad = 2
    out = augment_batch(xb, {"crop": pad}, torch.Generator().manual_seed(1))
    assert out.shape == xb.shape
    padded = torch.zeros(64, 2, 5 + 2 * pad, 6 + 2 * pad)
    padded[:, :, pad:-pad, pad:-pad] = xb
    shifts = set()
    for i in range(64):
        hits = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                if torch.equal(out[i], padded[i, :, dy:dy + 5, dx:dx + 6])]
        assert len(hits) == 1
        shifts.add(hits[0])
    assert len(shifts) > 12  # of 25 possible offsets


def test_augment_jitter_is_per_sample_affine_and_seeded():
    xb = torch.rand(16, 3, 4, 4)
    opts = {"jitter": 0.3}
    a = augment_batch(xb, opts, torch.Generator().manual_seed(5))
    b = augment_batch(xb, opts, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == xb.shape and not torch.allclose(a, xb)
    for i in range(16):
        for ch in range(3):
            # out = scale * x + shift within a channel: exactly linear in x.
            coef = np.polyfit(xb[i, ch].ravel().numpy(), a[i, ch].ravel().numpy(), 1)
            assert 0.5 < coef[0] < 1.6 and abs(coef[1]) <= 0.3 + 1e-5
    assert augment_batch(xb, {}, torch.Generator()) is xb


def test_check_compatible_sentences():
    shapes = describe("shapes")
    with pytest.raises(DataError) as err:
        check_compatible(shapes, (784,), "float", (8,), "class", input_id="x")
    assert str(err.value) == ("Dataset 'shapes' gives samples of shape (1, 28, 28) but the Input node 'x' "
                              "expects (784,).")
    with pytest.raises(DataError, match=r"has 8 classes but the output feeding the loss has 10 \(the last"):
        check_compatible(shapes, (1, 28, 28), torch.float32, (10,), "class", "x")
    with pytest.raises(DataError, match="gives class ids but the loss expects values"):
        check_compatible(shapes, (1, 28, 28), "float", (8,), "value", "x")
    sine = describe("sine")
    with pytest.raises(DataError, match="gives value targets of shape \\(1,\\) but the loss expects class ids"):
        check_compatible(sine, (1,), "float", (1,), "class", "x")
    anbn = describe("anbn", {"max_n": 8})
    with pytest.raises(DataError, match=r"one class id per step, shape \(18,\), but the output feeding the "
                                        r"loss has shape \(3,\); expected \(18, 3\)"):
        check_compatible(anbn, (18, 3), "float", (3,), "class", "x")
    with pytest.raises(DataError, match="gives token ids \\(long\\) but the Input node 'tok' expects float"):
        check_compatible(describe("grammar_text"), (32,), "float", (32, 34), "class", "tok")
    check_compatible(anbn, (18, 3), "float", (18, 3), "class", "x")
    check_compatible(describe("grammar_text"), (32,), torch.long, (32, 34), "class", "x")
    check_compatible(sine, (1,), "float", (1,), "value", "x")
    check_compatible(describe("parity"), (10, 1), "float", (1,), "value", "x")  # BCE on 0/1 ids
    check_compatible(describe("bouncing_shapes"), (10, 1, 24, 24), "float", (1, 24, 24), "value", "x")


def test_datasets_cli_lists_every_dataset(capsys):
    assert main(["datasets", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert set(entries) == set(DATASETS)
    assert entries["shapes"]["input_shape"] == [1, 28, 28]
    assert entries["grammar_text"]["input_dtype"] == "long"
    assert [p["name"] for p in entries["copy"]["params"]][:2] == ["samples", "lag"]
    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    assert "anbn" in text and "(N, 1, 28, 28)" in text and "class per step (22,), 3 classes" in text


def test_docs_reference_is_in_step_with_the_registry():
    from pathlib import Path

    from engine.cli.datasets import markdown_reference

    doc = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text(encoding="utf-8")
    marker = "a test keeps it in step. -->\n\n"
    start = doc.index(marker) + len(marker)
    block = doc[start:doc.index("<!-- End of generated reference. -->")]
    assert block == markdown_reference(), "regenerate with: python -m engine datasets --markdown"
    for name in DATASETS:
        assert f"#### `{name}`" in doc
