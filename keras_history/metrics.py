"""Scores: the Gaussian Parzen-window log-likelihood (GANs), and VOC's mean average
precision for detectors (R-CNN; `mean_average_precision`, at the end).

The Parzen-window log-likelihood:

Goodfellow et al. (2014) could not compute their GAN's likelihood, so they
estimated it the way Breuleux, Bengio and Vincent (2011) did: put an
isotropic Gaussian of width σ on each of 10,000 generated samples, pick σ
by the mean log-likelihood of validation images, and report the mean
log-density of the test images under that mixture, with its standard error
(Table 1: GAN 225 ± 2 on MNIST). The estimate is known to be crude in 784
dimensions (Theis, van den Oord and Bethge, 2016); it is reproduced here as
the paper's yardstick, not endorsed as a likelihood.

Everything is computed in float64 NumPy, in batches of `batch_size` points,
so memory stays at `batch_size × len(samples)` numbers; squared distances are
computed once and reused for every σ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_history import validation

# The protocol of the authors' parzen_ll.py: 10 widths from 0.1 to 1.
SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))


@dataclass(frozen=True)
class ParzenResult:
    """A Parzen-window estimate: the mean log-likelihood (nats per image) and its standard error."""

    mean: float
    standard_error: float
    sigma: float
    sigma_scores: dict  # σ -> mean validation log-likelihood, when σ was chosen

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.standard_error:.1f} (σ = {self.sigma:.4g})"


def _flat(data, name: str) -> np.ndarray:
    """Images or rows as float64 (N, features) in [0, 1]."""
    array = np.asarray(data)
    if array.ndim not in (2, 3, 4):
        raise ValueError(f"`{name}` must be images (N, height, width) or rows (N, features), "
                         f"got shape {array.shape}.")
    shape = (1, array.shape[1]) if array.ndim == 2 else array.shape[1:3]
    images = validation.as_unit_images(array, name, tuple(shape))
    return images.reshape(len(images), -1).astype("float64")


def _squared_distances(points: np.ndarray, centres: np.ndarray, batch_size: int):
    """Yield (rows, squared distances of each point to every centre), `batch_size` points a time."""
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    for start in range(0, len(points), batch_size):
        batch = points[start:start + batch_size]
        norms = np.einsum("ij,ij->i", batch, batch)
        squared = norms[:, None] + centre_norms[None, :] - 2.0 * batch @ centres.T
        yield np.maximum(squared, 0.0)  # rounding can dip a hair below zero


def _log_density(squared: np.ndarray, sigma: float, dimensions: int) -> np.ndarray:
    """log of the mean over centres of N(point; centre, σ²I), from squared distances."""
    exponents = -0.5 * squared / sigma**2
    top = exponents.max(axis=1)
    log_mean = top + np.log(np.exp(exponents - top[:, None]).mean(axis=1))
    return log_mean - dimensions * np.log(sigma * np.sqrt(2 * np.pi))


def parzen_log_densities(points, samples, sigma: float, batch_size: int = 100) -> np.ndarray:
    """The log-density of each of `points` under the Parzen window of `samples` with width σ.

    Args:
        points, samples: images (N, h, w) / (N, h, w, 1) or rows (N, features),
            in [0, 1] (uint8 grey levels are divided by 255); the same size.
        sigma: the Gaussian kernel's standard deviation (> 0).
        batch_size: points per batch; memory is `batch_size × len(samples)` float64.

    Returns:
        float64 array (len(points),), in nats.
    """
    validation.check_option("sigma", sigma, validation.is_finite_number(sigma) and sigma > 0,
                            "a positive, finite number")
    validation.check_option("batch_size", batch_size,
                            validation.is_integer(batch_size) and batch_size >= 1,
                            "an integer >= 1")
    x, mu = _flat(points, "points"), _flat(samples, "samples")
    if x.shape[1] != mu.shape[1]:
        raise ValueError(f"`points` and `samples` must have the same size per image, got "
                         f"{x.shape[1]} and {mu.shape[1]} values.")
    return np.concatenate([_log_density(d, sigma, x.shape[1])
                           for d in _squared_distances(x, mu, batch_size)])


def parzen_log_likelihood(samples, test, validation_images=None, sigma: float | None = None,
                          sigmas=SIGMAS, batch_size: int = 100) -> ParzenResult:
    """The paper's Parzen-window estimate of a generator's log-likelihood on `test`.

    The protocol of Goodfellow et al. (2014), after Breuleux et al. (2011): the
    kernel width is the σ of `sigmas` (default logspace(−1, 0, 10)) that gives
    `validation_images` the highest mean log-likelihood (the paper uses the
    first 1,000 MNIST validation images, train[50000:51000], and 10,000
    samples), unless `sigma` is given. The result is the mean log-likelihood
    of the `test` images and its standard error, std / √N.

    Args:
        samples: generated images, in [0, 1].
        test: the images scored (the 10,000 MNIST test images).
        validation_images: images that choose σ; needed unless `sigma` is given.
        sigma: a fixed kernel width instead of the search.
        sigmas: the widths searched.
        batch_size: images scored at a time (memory: batch_size × len(samples)).

    Returns:
        A `ParzenResult` (mean, standard_error, sigma, sigma_scores).
    """
    if sigma is None and validation_images is None:
        raise ValueError("Give `validation_images` (the paper: the first 1,000 validation "
                         "images) to choose σ, or a fixed `sigma`.")
    scores = {}
    if sigma is None:
        sigmas = [float(s) for s in np.atleast_1d(np.asarray(sigmas, dtype="float64"))]
        if not sigmas or not all(np.isfinite(s) and s > 0 for s in sigmas):
            raise ValueError(f"`sigmas` must be positive, finite widths, got {sigmas!r}.")
        x, mu = _flat(validation_images, "validation_images"), _flat(samples, "samples")
        totals = np.zeros(len(sigmas))
        for squared in _squared_distances(x, mu, batch_size):
            totals += [_log_density(squared, s, x.shape[1]).sum() for s in sigmas]
        scores = dict(zip(sigmas, (totals / len(x)).tolist()))
        sigma = max(scores, key=scores.get)
    densities = parzen_log_densities(test, samples, sigma, batch_size)
    return ParzenResult(float(densities.mean()), float(densities.std() / np.sqrt(len(densities))),
                        float(sigma), scores)


__all__ = ["SIGMAS", "ParzenResult", "average_precision", "box_iou", "mean_average_precision",
           "parzen_log_densities", "parzen_log_likelihood"]


# --- Detection: PASCAL VOC's average precision -----------------------------------------------

VOC_IOU = 0.5  # a detection is right when its box overlaps a ground truth's by at least this
INTERPOLATIONS = ("11point", "all")  # VOC 2007's 11 recall levels; VOC 2010 on: every point


def box_iou(boxes, others) -> np.ndarray:
    """Intersection over union of every pair: boxes (A, 4) × others (B, 4) → (A, B).

    Boxes are pixel edges (x1, y1, x2, y2), x2 and y2 exclusive, so a box's
    area is (x2 − x1)·(y2 − y1) (VOC's devkit counts inclusive pixels, +1).
    """
    a = np.asarray(boxes, "float64").reshape(-1, 4)
    b = np.asarray(others, "float64").reshape(-1, 4)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _per_image(values, name: str, images: int, width: int | None) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) and values.dtype != object:
        values = list(values)
    if not isinstance(values, (list, tuple)) or len(values) != images:
        length = len(values) if hasattr(values, "__len__") else "?"
        raise ValueError(f"`{name}` must be a list with one array per image ({images}), got "
                         f"{type(values).__name__} of length {length}.")
    arrays = []
    for number, value in enumerate(values):
        array = np.asarray(value, "float64")
        array = array.reshape(-1, width) if width else array.reshape(-1)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"`{name}[{number}]` holds NaN or infinite values.")
        arrays.append(array)
    return arrays


def _matches(boxes, scores, labels, true_boxes, true_labels, label: int, iou_threshold: float):
    """Whether each detection of `label`, best first, is a true positive, and the number
    of ground truths of `label`: VOC's greedy matching (each truth matched at most once, by
    the highest-scoring detection that overlaps it by `iou_threshold` or more)."""
    hits = []
    detections = [(s, image, k) for image, (sc, lb) in enumerate(zip(scores, labels))
                  for k, s in enumerate(sc) if lb[k] == label]
    detections.sort(key=lambda d: -d[0])  # stable: ties keep image order
    truths = [tb[tl == label] for tb, tl in zip(true_boxes, true_labels)]
    count = sum(len(t) for t in truths)
    taken = [np.zeros(len(t), bool) for t in truths]
    for _, image, k in detections:
        overlaps = box_iou(boxes[image][k], truths[image])[0]
        best = int(np.argmax(overlaps)) if len(overlaps) else -1
        hit = best >= 0 and overlaps[best] >= iou_threshold and not taken[image][best]
        if hit:
            taken[image][best] = True
        hits.append(hit)
    return np.array(hits, bool), count


def average_precision(recall, precision, interpolation: str = "11point") -> float:
    """VOC's AP from a ranked list's recall and precision after each detection.

    "11point" (VOC 2007, the R-CNN paper's numbers): the mean over recall
    levels t = 0, 0.1, ..., 1 of the highest precision at recall >= t (0 where
    none). "all" (VOC 2010 on): the area under the precision envelope, every
    recall step counted.
    """
    recall, precision = np.asarray(recall, "float64"), np.asarray(precision, "float64")
    if interpolation == "11point":
        return float(np.mean([precision[recall >= t].max() if np.any(recall >= t) else 0.0
                              for t in np.linspace(0, 1, 11)]))
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # the envelope: best precision further right
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(boxes, scores, labels, true_boxes, true_labels,
                           iou_threshold: float = VOC_IOU, interpolation: str = "11point",
                           per_class: bool = False):
    """PASCAL VOC's mean average precision of a detector over a set of images.

    Args:
        boxes, scores, labels: the detections, one array per image: boxes (K, 4)
            as pixel edges (x1, y1, x2, y2), scores (K,), class ids (K,).
            `model.detect(images)` of `models.rcnn` returns exactly these.
        true_boxes, true_labels: the ground truth, one array per image (as
            `datasets.mnist_detection` returns them).
        iou_threshold: overlap a detection needs with an unmatched ground truth
            of its class to count as right (VOC: 0.5). A second detection of
            the same object is a false positive.
        interpolation: "11point" (default: VOC 2007's devkit, which the R-CNN
            paper's 54.2 and 58.5 mAP used) or "all" (VOC 2010 on).
        per_class: also return {class id: AP}.

    Returns:
        The mean of the classes' APs over the classes that have ground truth
        (a class with detections but no ground truth is left out, as VOC has none),
        and with `per_class` the dict too.
    """
    images = len(true_boxes) if hasattr(true_boxes, "__len__") else -1
    if images < 1:
        raise ValueError("`true_boxes` must be a non-empty list with one (K, 4) array per image.")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}, got {interpolation!r}.")
    if not (isinstance(iou_threshold, (int, float)) and 0 < iou_threshold <= 1):
        raise ValueError(f"`iou_threshold` must be in (0, 1], got {iou_threshold!r}.")
    boxes = _per_image(boxes, "boxes", images, 4)
    scores = _per_image(scores, "scores", images, None)
    labels = _per_image(labels, "labels", images, None)
    true_boxes = _per_image(true_boxes, "true_boxes", images, 4)
    true_labels = _per_image(true_labels, "true_labels", images, None)
    for name, first, second in (("scores", scores, boxes), ("labels", labels, boxes),
                                ("true_labels", true_labels, true_boxes)):
        for number, (a, b) in enumerate(zip(first, second)):
            if len(a) != len(b):
                raise ValueError(f"`{name}[{number}]` has {len(a)} entries for {len(b)} boxes: "
                                 "one per box.")
    precisions = {}
    for label in sorted({int(v) for t in true_labels for v in t}):
        hits, count = _matches(boxes, scores, labels, true_boxes, true_labels, label,
                                  iou_threshold)
        true_positives = np.cumsum(hits)
        recall = true_positives / count
        precision = true_positives / np.arange(1, len(hits) + 1)
        precisions[label] = average_precision(recall, precision, interpolation) if len(hits) \
            else 0.0
    mean = float(np.mean(list(precisions.values())))
    return (mean, precisions) if per_class else mean
