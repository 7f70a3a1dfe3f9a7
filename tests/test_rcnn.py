"""R-CNN (Girshick et al. 2014) in miniature: the canvases, the warp, box offsets, NMS, the
SVMs' and box regressors' rules against NumPy and brute force, VOC's mAP against a brute-force
computation on hand-made boxes, and one small run of the whole pipeline (one backend)."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
from cases import home_only
from keras import ops

from keras_history import datasets, metrics, models, tour
from keras_history.models.convolutional.rcnn import (
    apply_box_deltas,
    box_deltas,
    hinge_svm,
    non_max_suppression,
    ridge,
    selective_search,
    svm_objective,
    warp_regions,
)


@pytest.fixture(scope="module")
def canvases():
    return datasets.mnist_detection.load_sample(train=12, test=4, seed=3)


# --- data -----------------------------------------------------------------------------

def test_canvases_are_seeded_and_their_boxes_hold_every_digits_ink(canvases):
    (x, boxes, classes), (x_test, _, _) = canvases
    assert x.shape == (12, 128, 128, 1) and x.dtype == np.float32 and x_test.shape[0] == 4
    assert 0.0 <= x.min() and x.max() <= 1.0
    again = datasets.mnist_detection.load_sample(train=12, test=4, seed=3)[0]
    np.testing.assert_array_equal(again[0], x)
    for image, box, label in zip(x, boxes, classes):
        assert 1 <= len(box) <= 5 and len(box) == len(label) and label.dtype == np.int32
        assert np.all((label >= 0) & (label <= 9))
        assert np.all(box[:, :2] >= 0) and np.all(box[:, 2:] <= 128)
        inside = np.zeros((128, 128), bool)
        for x1, y1, x2, y2 in box.astype(int):
            inside[y1:y2, x1:x2] = True
        assert not np.any((image[..., 0] > datasets.mnist_detection.INK) & ~inside)
        assert metrics.box_iou(box, box)[~np.eye(len(box), dtype=bool)].max(initial=0) == 0


def test_canvases_use_only_the_digits_given_and_refuse_bad_sizes():
    (digits, labels), _ = datasets.mnist.load_sample()
    sevens = digits[labels == 7][:20]
    _, _, classes = datasets.mnist_detection.make_canvases(sevens, np.full(20, 7), 3, seed=0)
    assert all(np.all(c == 7) for c in classes)
    with pytest.raises(ValueError, match="`digit_sizes` must satisfy"):
        datasets.mnist_detection.make_canvases(sevens, np.full(20, 7), 1, digit_sizes=(30, 20))
    with pytest.raises(ValueError, match="`train` must be a number of canvases"):
        datasets.mnist_detection.load_sample(train=-1)


def test_selective_search_finds_the_digits(canvases):
    (x, boxes, _), _ = canvases
    found = selective_search(x[0])
    assert found.ndim == 2 and found.shape[1] == 4 and 5 <= len(found) <= 2000
    np.testing.assert_array_equal(found, selective_search(x[0]))  # the same every time
    assert metrics.box_iou(boxes[0], found).max(axis=1).min() >= 0.5  # every digit covered


# --- warping, boxes, NMS ------------------------------------------------------------------

def test_a_warp_with_mnists_margin_of_context_gives_the_window_back():
    image = np.random.default_rng(0).uniform(size=(28, 28, 1)).astype("float32")
    # The box of the central 20 × 20 with 4 warped pixels of context: the whole image.
    np.testing.assert_allclose(warp_regions(image, [[4, 4, 24, 24]], 28, 4)[0], image,
                               atol=1e-5)
    np.testing.assert_allclose(warp_regions(image, [[0, 0, 28, 28]], 28, 0)[0], image,
                               atol=1e-5)
    # Half the image stretched to the window: every other column comes from the image.
    half = warp_regions(image, [[0, 0, 14, 28]], 28, 0)[0]
    np.testing.assert_allclose(half[:, 1:-1:2], (image[:, :13] * 0.75 + image[:, 1:14] * 0.25),
                               atol=1e-5)
    # Context beyond the image is black.
    corner = warp_regions(np.ones((28, 28, 1), "float32"), [[0, 0, 10, 10]], 28, 4)[0, ..., 0]
    assert corner[0, 0] == 0.0 and corner[27, 27] == 1.0


def test_box_offsets_are_appendix_cs_and_undo_each_other():
    p = np.array([[10, 20, 30, 60]], "float32")  # centre (20, 40), 20 × 40
    g = np.array([[15, 10, 55, 50]], "float32")  # centre (35, 30), 40 × 40
    t = box_deltas(p, g)
    np.testing.assert_allclose(t, [[15 / 20, -10 / 40, np.log(2.0), 0.0]], rtol=1e-6)
    np.testing.assert_allclose(apply_box_deltas(p, t), g, atol=1e-4)


def test_nms_keeps_the_best_of_boxes_overlapping_by_more_than_0_3():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 5, 10, 15]])
    scores = np.array([0.5, 0.9, 0.3, 0.4])
    # Box 1 suppresses box 0 (IoU 0.82); box 3 overlaps box 1 by 45/155 = 0.29: kept.
    np.testing.assert_array_equal(non_max_suppression(boxes, scores), [1, 3, 2])


# --- the SVMs' and the box regressors' rules ----------------------------------------------

def test_the_svm_rule_reaches_the_primals_brute_force_minimum():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal([2, 1], 1.0, (30, 2)), rng.normal([-1, -2], 1.0, (40, 2))])
    y = np.concatenate([np.ones(30), -np.ones(40)])[:, None]
    c = 0.05
    w = hinge_svm(x, y, c=c, positive_weight=2.0, steps=300)
    grid = np.stack(np.meshgrid(*[np.linspace(-1.5, 1.5, 301)] * 2), -1).reshape(-1, 2).T
    best = svm_objective(grid, x, np.repeat(y, grid.shape[1], axis=1), c=c).min()
    ours = svm_objective(w, x, y, c=c)[0]
    assert ours == pytest.approx(best, rel=0.02)  # the grid's step 0.01 may miss a little
    # Rows with target 0 are outside a class's problem: the other column is unaffected.
    both = hinge_svm(x, np.concatenate([y, np.zeros_like(y)], axis=1), c=c, steps=50)
    np.testing.assert_allclose(ops.convert_to_numpy(both)[:, 1], 0.0)


def test_ridge_is_the_closed_form():
    rng = np.random.default_rng(2)
    x, t = rng.normal(size=(50, 6)), rng.normal(size=(50, 4))
    expected = np.linalg.solve(x.T @ x + 1000.0 * np.eye(6), x.T @ t)
    np.testing.assert_allclose(ops.convert_to_numpy(ridge(x, t)), expected, rtol=1e-3,
                               atol=1e-6)


# --- VOC's mean average precision ---------------------------------------------------------

def test_map_of_a_hand_made_ranking():
    truth = [np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
    labels = [np.array([1]), np.array([1, 2])]
    # Class 1: a hit (0.9), a second box on the same digit (0.8: a false positive), a hit
    # (0.7): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1. Class 2: one miss, then one hit.
    boxes = [np.array([[0, 0, 10, 10], [1, 0, 10, 10]]),
             np.array([[0, 1, 10, 11], [40, 40, 50, 50], [21, 20, 30, 30]])]
    scores = [np.array([0.9, 0.8]), np.array([0.7, 0.95, 0.6])]
    found = [np.array([1, 1]), np.array([1, 2, 2])]
    mean, per_class = metrics.mean_average_precision(boxes, scores, found, truth, labels,
                                                     per_class=True)
    assert per_class[1] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    assert per_class[2] == pytest.approx(11 * 0.5 / 11)
    assert mean == pytest.approx((per_class[1] + per_class[2]) / 2)
    every = metrics.mean_average_precision(boxes, scores, found, truth, labels,
                                           interpolation="all", per_class=True)[1]
    assert every[1] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3) and every[2] == pytest.approx(0.5)
    perfect = metrics.mean_average_precision(truth, [np.ones(1), np.ones(2)], labels, truth,
                                             labels)
    assert perfect == 1.0


def brute_force_ap(boxes, scores, labels, truth, true_labels, label, eleven: bool) -> float:
    """Precision and recall of every score threshold, each matched from scratch."""
    flat = sorted(((s, n, b) for n in range(len(boxes))
                   for b, s, lb in zip(boxes[n], scores[n], labels[n]) if lb == label),
                  key=lambda d: -d[0])
    total = sum(int(np.sum(t == label)) for t in true_labels)
    points = []
    for k in range(1, len(flat) + 1):
        used, hits = set(), 0
        for _, n, b in flat[:k]:
            candidates = [(float(metrics.box_iou(b, g)[0, 0]), n, j)
                          for j, (g, gl) in enumerate(zip(truth[n], true_labels[n]))
                          if gl == label]
            if candidates:
                iou, _, j = max(candidates)
                if iou >= 0.5 and (n, j) not in used:
                    used.add((n, j))
                    hits += 1
        points.append((hits / total, hits / k))
    if eleven:
        return np.mean([max([p for r, p in points if r >= t], default=0.0)
                        for t in np.linspace(0, 1, 11)])
    area, previous = 0.0, 0.0
    for r in sorted({r for r, _ in points}):
        area += (r - previous) * max(p for q, p in points if q >= r)
        previous = r
    return area


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_matches_a_brute_force_count(seed):
    rng = np.random.default_rng(seed)
    truth, true_labels, boxes, scores, labels = [], [], [], [], []
    for _ in range(4):
        corners = rng.uniform(0, 60, (3, 2))
        truth.append(np.concatenate([corners, corners + rng.uniform(8, 20, (3, 2))], axis=1))
        true_labels.append(rng.integers(0, 2, 3))
        # Jittered copies of the truths (hits, near misses, duplicates) and strays.
        picks = rng.integers(0, 3, 5)
        jitter = truth[-1][picks] + rng.normal(0, 3, (5, 4))
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        boxes.append(jitter)
        scores.append(rng.uniform(size=5))
        right = true_labels[-1][picks]
        labels.append(np.where(rng.uniform(size=5) < 0.8, right, 1 - right))
    for eleven, interpolation in ((True, "11point"), (False, "all")):
        _, per_class = metrics.mean_average_precision(boxes, scores, labels, truth, true_labels,
                                                      interpolation=interpolation,
                                                      per_class=True)
        for label, ap in per_class.items():
            assert ap == pytest.approx(brute_force_ap(boxes, scores, labels, truth,
                                                      true_labels, label, eleven))


def test_map_refuses_what_it_cannot_read():
    truth, labels = [np.array([[0, 0, 10, 10]])], [np.array([1])]
    with pytest.raises(ValueError, match="`boxes` must be a list with one array per image"):
        metrics.mean_average_precision([], [], [], truth, labels)
    with pytest.raises(ValueError, match=r"`scores\[0\]` has 2 entries"):
        metrics.mean_average_precision(truth, [np.ones(2)], labels, truth, labels)
    with pytest.raises(ValueError, match="`interpolation` must be one of"):
        metrics.mean_average_precision(truth, [np.ones(1)], labels, truth, labels,
                                       interpolation="voc")


# --- the model -------------------------------------------------------------------------------

# The rule is the ImageNet era's (`MomentumClassifier`); TensorFlow trains it in the
# pipeline test and the suite's tables (`cases.turn_of`), so this checks the other two.
@home_only("jax", "torch")
def test_the_cnn_is_an_eleven_way_window_classifier_trained_by_sgd():
    model = models.rcnn(seed=1, learning_rate=0.01)
    assert model.classes == 11 and model.object_classes == 10 and model.pool5_units == 1024
    (x, y), _ = datasets.mnist.load_sample()
    labels = np.where(np.arange(32) % 4 == 0, 10, y[:32])  # a quarter "background"
    windows = x[:32, :, :, None] / np.float32(255)

    def cost():  # eager calls: no compiled evaluate or predict to wait for
        return float(ops.convert_to_numpy(model.cost(labels, model(windows))))

    before = cost()
    model.fit(x[:32], labels, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert cost() < before
    assert tuple(model(windows[:3]).shape) == (3, 11)
    pool5, fc7 = model.features(x[:3, :, :, None] / np.float32(255))
    assert pool5.shape == (3, 1024) and fc7.shape == (3, 256) and np.all(fc7 >= 0)
    config = model.get_config()
    assert config["classes"] == 10 and type(model).from_config(config).classes == 11


def test_bad_options_and_inputs_are_named(canvases):
    (x, boxes, classes), _ = canvases
    with pytest.raises(ValueError, match="`context` must be an integer >= 0"):
        models.rcnn(context=14)
    with pytest.raises(ValueError, match="`input_shape` must be square windows"):
        models.rcnn(input_shape=(28, 32, 1))
    model = models.rcnn(seed=1, compile=False)
    with pytest.raises(ValueError, match="SVMs are not trained yet"):
        model.detect(x[:1])
    with pytest.raises(ValueError, match=r"`images` must be images of shape \(N, height, "):
        model.fine_tuning_windows(x[:2, :, :, 0, None, None], boxes[:2], classes[:2])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        model.fine_tuning_windows(x[:2] * 255, boxes[:2], classes[:2])
    with pytest.raises(ValueError, match="`boxes` must be a list of 2 arrays"):
        model.fine_tuning_windows(x[:2], boxes[:1], classes[:2])
    with pytest.raises(ValueError, match=r"`boxes\[0\]` must hold finite boxes"):
        model.fine_tuning_windows(x[:2], [boxes[0][:, [2, 1, 0, 3]], boxes[1]], classes[:2])
    with pytest.raises(ValueError, match=r"`classes\[1\]` must hold class ids in 0\.\.9"):
        model.fine_tuning_windows(x[:2], boxes[:2], [classes[0], classes[1] + 10])


def test_without_opencv_proposals_name_the_extra_and_the_tour_says_so(monkeypatch, canvases):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    assert not models.proposals_available()
    with pytest.raises(ImportError, match=r"pip install 'keras-history\[rcnn\]'"):
        selective_search(canvases[0][0][0])
    recipe = tour.RECIPES["rcnn"]
    measured, _, ok = recipe.check(recipe.train(recipe.run()), recipe.run())
    assert ok and "untrained: selective search needs pip install" in measured


def _trained(canvases, seed=0):
    (x, y), _ = datasets.mnist.load_sample()
    model = models.rcnn(seed=seed)
    model.pretrain(x[:1000], y[:1000], epochs=1, batch_size=16, verbose=0)
    train, test = canvases
    report = model.train_detector(*train, batches=16, seed=seed)
    return model, report, test


# The whole pipeline on 12 canvases (TensorFlow ~11 s, JAX ~33 s, PyTorch ~70 s).
@home_only("tensorflow")
def test_the_pipeline_trains_and_detects(canvases, tmp_path):
    model, report, (x_test, truth, labels) = _trained(canvases)
    assert len(report["fine_tuning"]["loss"]) == 1 and report["mining"][0]["cached"] > 0
    assert sum(report["box_pairs"].values()) > 0
    boxes, scores, found = model.detect(x_test)
    assert len(boxes) == len(scores) == len(found) == len(x_test)
    for b, s, c in zip(boxes, scores, found):
        assert b.shape == (len(s), 4) and len(c) == len(s) and np.all(np.diff(s) <= 0)
        assert np.all(b[:, :2] >= 0) and np.all(b[:, 2:] <= 128) and np.all(s > -1.0)
        for k in set(c.tolist()):  # NMS: a class's boxes overlap by at most 0.3
            same = b[c == k]
            assert metrics.box_iou(same, same)[~np.eye(len(same), dtype=bool)].max(
                initial=0) <= 0.3 + 1e-6
    mean = metrics.mean_average_precision(boxes, scores, found, truth, labels)
    assert mean > 0.2  # chance is near 0 (measured: 0.33; 12 canvases, 16 batches)
    unmoved = model.detect(x_test, regress=False)
    assert sum(map(len, unmoved[0])) > 0
    # The .keras file keeps the detector: the SVMs and box regressors are its weights.
    model.save(tmp_path / "rcnn.keras")
    again = models.RCNN.from_config(model.get_config())
    again.build((None, 28, 28, 1))
    again.load_weights(tmp_path / "rcnn.keras")
    for ours, theirs in zip(model.detect(x_test[:2]), again.detect(x_test[:2])):
        for a, b in itertools.zip_longest(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
