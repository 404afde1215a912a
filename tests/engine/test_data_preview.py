"""What the data dialog and `engine check` show of a user's files, compared with the files
written by the test; the fit of a template to them (the check's fixes in rounds); and the
"normalise" option of a dataset reference."""
import numpy as np
import pytest

from engine.data import DataAccess, DataError, load_dataset
from engine.data.preview import csv_columns, idx_pair, preview_file
from engine.graph.data_check import check_data
from engine.graph.data_fit import plan_fit
from engine.graph.shapes import analyse
from engine.templates import load_template

from ..user_files import TEXT, csv_table, idx_pair as write_idx_pair, image_folder, text_file


def test_idx_pair_counts_shapes_and_thumbnails(tmp_path):
    images, labels, x, y = write_idx_pair(tmp_path, n=90, size=28, classes=3)
    assert idx_pair(labels) == (images, labels) and idx_pair(images) == (images, labels)
    p = preview_file({"path": images.name, "labels": labels.name}, DataAccess(tmp_path), 0.2)
    assert (p.samples, p.train, p.val) == (90, 72, 18)
    assert p.info.input_shape == (1, 28, 28) and p.info.input_dtype == "float" and p.normalised
    assert p.class_counts == tuple(np.bincount(y, minlength=3))
    assert p.summary() == "90 samples of (1, 28, 28) float; 3 classes; 72 to train on, 18 to validate."
    # thumbnails: the first images of each class, the file's own pixels (uint8 -> [0, 1] -> uint8)
    assert len(p.images) == 24 and [c for c, _ in p.images] == [0] * 8 + [1] * 8 + [2] * 8
    first_of_1 = int(np.flatnonzero(y == 1)[0])
    np.testing.assert_array_equal(p.images[8][1], x[first_of_1])


def test_csv_columns_rows_and_label_column(tmp_path):
    path, x, species = csv_table(tmp_path / "iris.csv", n=80)
    # the label column is guessed: the only one holding text
    assert csv_columns(path) == (["species", "sepal_length", "sepal_width", "petal_length", "petal_width"], True, 0)
    (tmp_path / "plain.csv").write_text("1,2,0\n3,4,1\n")
    assert csv_columns(tmp_path / "plain.csv") == (["column 1", "column 2", "column 3"], False, 2)
    # the default label column is the last one: the text column then is a feature, and is refused
    with pytest.raises(DataError, match="row 2, column 'species': 'setosa' is not a number"):
        preview_file({"path": "iris.csv"}, DataAccess(tmp_path))
    p = preview_file({"path": "iris.csv", "label_column": "species"}, DataAccess(tmp_path), 0.25)
    assert p.info.input_shape == (4,) and p.info.class_names == ("setosa", "versicolor", "virginica")
    assert p.class_counts == tuple(species.count(n) for n in p.info.class_names)
    assert (p.train, p.val) == (60, 20) and len(p.rows) == 6
    features, label = p.rows[0]
    assert features == pytest.approx(tuple(x[0])) and label == species[0]


def test_text_vocabulary_and_excerpt(tmp_path):
    text_file(tmp_path / "book.txt")
    p = preview_file({"path": "book.txt", "seq_len": 40}, DataAccess(tmp_path))
    assert p.info.class_names == tuple(sorted(set(TEXT)))
    assert p.samples == (len(TEXT) - 40 + 39) // 40 and p.info.input_shape == (40,)
    assert p.lines[0] == TEXT[:40].replace(" ", "␣") and not p.normalised
    assert sum(p.class_counts) == p.samples * 40


def test_image_folder_counts_and_thumbnails(tmp_path):
    folder, counts = image_folder(tmp_path / "pics", per_class=30, size=16)
    p = preview_file({"path": "pics"}, DataAccess(tmp_path))
    assert p.info.class_names == ("bars", "dots") and p.class_counts == (30, 30)
    assert p.info.input_shape == (1, 16, 16)
    assert [c for c, _ in p.images] == [0] * 12 + [1] * 12 and p.images[0][1].shape == (16, 16)


def test_npz_sequences_with_value_targets(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 12, 2)).astype(np.float32)
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    np.savez(tmp_path / "seq.npz", x=x, y=y)
    p = preview_file({"path": "seq.npz"}, DataAccess(tmp_path))
    assert p.summary() == "30 samples of (12, 2) float; value targets of shape (1,); 24 to train on, 6 to validate."
    assert p.value_range == pytest.approx((float(y.min()), float(y.max())))
    assert len(p.lines) == 4 and p.lines[0].endswith(f"… → {y[0, 0]:.3g}")
    assert p.lines[0].startswith(f"[{x[0, 0, 0]:.2g} {x[0, 0, 1]:.2g}]") and not p.normalised and not p.class_counts


def test_a_file_outside_the_allowed_folders_is_one_sentence(tmp_path):
    text_file(tmp_path / "book.txt")
    with pytest.raises(DataError, match="lies outside"):
        preview_file({"path": str(tmp_path / "book.txt")}, DataAccess(tmp_path / "elsewhere"))


def test_normalise_false_keeps_the_raw_values(tmp_path):
    csv_table(tmp_path / "iris.csv", n=80)
    ref = {"path": "iris.csv", "label_column": "species"}
    on = load_dataset(ref, base_dir=tmp_path)
    off = load_dataset({**ref, "normalise": False}, base_dir=tmp_path)
    assert on.mean is not None and off.mean is None and off.std is None
    raw = np.concatenate([off.x_train, off.x_val])
    np.testing.assert_allclose(on.x_train * on.std + on.mean, off.x_train, atol=1e-5)
    assert abs(float(on.x_train.mean())) < 0.05 and abs(float(raw[:, 0].mean()) - 2.0) < 0.5  # 0, 2, 4 by class
    with pytest.raises(DataError, match="normalise must be true or false"):
        load_dataset({**ref, "normalise": "yes"}, base_dir=tmp_path)
    assert preview_file({**ref, "normalise": False}, DataAccess(tmp_path)).normalised is False


def _fits(doc, ref, info):
    plan = plan_fit(doc, ref, info)
    work = doc.copy()
    work.dataset = ref
    for c in plan.changes:
        work.node(c.node).params[c.param] = c.new
    analysis = analyse(work)
    return plan, analysis.problems + check_data(work, analysis, info, None)


def test_fit_lenet_to_an_idx_pair_sets_the_output_units(tmp_path):
    images, labels, *_ = write_idx_pair(tmp_path, classes=3)
    ref = {"path": images.name, "labels": labels.name}
    info = preview_file(ref, DataAccess(tmp_path)).info
    doc = load_template("lenet")
    before = doc.to_dict()
    plan, left = _fits(doc, ref, info)
    assert [c.text() for c in plan.changes] == ["Dense 'logits': units 8 → 3"] and plan.fits and left == []
    assert doc.to_dict() == before  # planning never touches the document


def test_fit_a_char_lstm_in_rounds_input_then_vocabulary_and_output(tmp_path):
    # a text with more symbols than the template's Embedding holds: the vocabulary and the
    # output only show up as problems once the sequence length is fixed (the next round)
    text = "".join(chr(0x41 + i % 50) for i in range(600))
    text_file(tmp_path / "wide.txt", text)
    ref = {"path": "wide.txt", "seq_len": 20}
    info = preview_file(ref, DataAccess(tmp_path)).info
    plan, left = _fits(load_template("char_lstm"), ref, info)
    assert [c.text() for c in plan.changes] == ["Input 'x': shape (N, 32) → (N, 20)",
                                                "Embedding 'embed': vocab 34 → 50",
                                                "Dense 'logits': units 34 → 50"]
    assert left == []


def test_fit_an_mlp_to_images_says_what_is_left_to_do(tmp_path):
    folder, _ = image_folder(tmp_path / "pics", per_class=4, size=8)
    info = preview_file({"path": "pics"}, DataAccess(tmp_path)).info
    plan = plan_fit(load_template("playground_mlp"), {"path": "pics"}, info)
    assert [c.text() for c in plan.changes] == ["Input 'x': shape (N, 2) → (N, 1, 8, 8)"]
    assert not plan.fits and plan.remaining[0].node == "loss" and "(N, 1, 8, 2)" in str(plan.remaining[0])
