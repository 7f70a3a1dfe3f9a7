"""R-CNN: Girshick, Donahue, Darrell and Malik (2014), "Rich feature hierarchies for
accurate object detection and semantic segmentation".

Before 2014 the best detectors on PASCAL VOC scored hand-made features (HOG,
SIFT) of sliding windows or part models, and had stalled near 35% mAP. Ross
Girshick, Jeff Donahue, Trevor Darrell and Jitendra Malik (UC Berkeley, CVPR
2014, arXiv 1311.2524) took the convnet that had just won ImageNet and asked it
about regions instead of whole images. Their two insights: run a
high-capacity CNN on bottom-up region proposals, and, since labelled detection
data are scarce, pre-train it on a large auxiliary task (ImageNet
classification) and fine-tune it on the small one. The pipeline:

1. about 2,000 category-independent *region proposals* per image by selective
   search ("fast" mode; Uijlings et al. 2013);
2. each proposal *warped* to the CNN's input (227 × 227 for AlexNet), its box
   first dilated so that p = 16 warped pixels of context surround it;
3. CNN *features* of each warped region: AlexNet pre-trained on ILSVRC 2012,
   then fine-tuned by SGD (rate 0.001, a tenth of pre-training's) on warped
   proposals with an (N + 1)-way softmax: proposals with IoU >= 0.5 to a
   ground-truth box are positives of its class, the rest background, each
   batch of 128 holding 32 positive windows and 96 background;
4. one *linear SVM per class* on the fc7 features: ground-truth boxes are the
   positives, proposals with IoU < 0.3 to every instance of the class the
   negatives (the grey zone between is ignored), trained with hard-negative
   mining (liblinear, C = 0.001, positives' loss weighted 2, features scaled to
   a mean norm of 20, a bias feature of 10);
5. class-specific *bounding-box regression* (Appendix C): ridge regression
   (λ = 1000) from the pool5 features of proposals with IoU > 0.6 to a ground
   truth to the box's offsets t = ((G_x − P_x)/P_w, (G_y − P_y)/P_h,
   log(G_w/P_w), log(G_h/P_h));
6. per-class greedy *non-maximum suppression*: a region is rejected if it
   overlaps a higher-scoring selected region of its class by IoU > 0.3.

VOC 2007 test, mAP: 54.2% with fine-tuned fc7 features, 58.5% with box
regression added (Table 2; 11-point AP).

This is a miniature of that pipeline on `keras_history.datasets.mnist_detection`
canvases: a LeNet-sized CNN on 28 × 28 windows (`RCNN`), pre-trained on MNIST
digits (`pretrain`), fine-tuned on warped proposals by its train step (`fit`
on windows, `fine_tune` on canvases), then SVMs (`train_svms`) and box
regressors (`train_box_regressors`) on its features, and `detect`. The
learning rules are written in `keras.ops`: backpropagation with SGD + momentum
and weight decay (AlexNet's), the SVMs' hinge loss (`hinge_svm`), ridge
regression by `keras.ops.linalg.solve` (`ridge`); proposals, warping, IoU,
sampling and NMS are NumPy glue. Selective search is OpenCV's
(opencv-contrib's `ximgproc.segmentation`, the `rcnn` extra).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import layers, ops

from keras_history import backend, validation
from keras_history.metrics import box_iou
from keras_history.models.convolutional.classifier import MomentumClassifier, finish
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["RCNN", "apply_box_deltas", "box_deltas", "hinge_svm", "non_max_suppression",
           "proposals_available", "rcnn", "ridge", "selective_search", "warp_regions"]

# Section 2 and Appendices B and C; the constants of the authors' rcnn code where the
# paper is silent (the SVM's C, loss weight, bias and feature scale).
CONTEXT = 4  # warped pixels around a box: the paper's 16 of 227; 4 of 28 is MNIST's own margin
FOREGROUND_IOU = 0.5  # fine-tuning: IoU >= 0.5 to a ground truth is a positive of its class
BATCH, POSITIVES = 128, 32  # fine-tuning batches: 32 positive windows and 96 background
PRETRAIN_RATE, FINE_TUNE_RATE = 0.01, 0.001  # SGD: fine-tuning starts at a tenth of the rate
NEGATIVE_IOU = 0.3  # SVMs: negatives overlap every instance of the class by less than this
SVM_C, POSITIVE_WEIGHT, BIAS_FEATURE, FEATURE_NORM = 1e-3, 2.0, 10.0, 20.0
HARD, EASY = -1.0001, -1.2  # hard negatives score above HARD; cached ones below EASY are dropped
SVM_STEPS, MINING_ROUNDS = 300, 3
BOX_IOU, RIDGE = 0.6, 1000.0  # box regression: proposals with IoU > 0.6, λ = 1000
NMS_IOU = 0.3
MINIMUM_SIZE = 16  # two 5×5 convolutions and two 2×2 poolings leave a 1×1 grid
INFERENCE_BATCH = 512  # windows per forward pass in `features`
MAX_PROPOSALS = 2000  # the paper's "~2000" per image


# --- NumPy glue: proposals, warping, boxes ------------------------------------------------

def _opencv():
    try:
        import cv2
        segmentation = cv2.ximgproc.segmentation
    except (ImportError, AttributeError) as error:
        raise ImportError(
            "R-CNN's region proposals need OpenCV's contrib modules (selective search, "
            "cv2.ximgproc): pip install 'keras-history[rcnn]' (opencv-contrib-python-headless)"
        ) from error
    return cv2, segmentation


def proposals_available() -> bool:
    """Whether selective search can run here (the `rcnn` extra is installed)."""
    try:
        _opencv()
    except ImportError:
        return False
    return True


def selective_search(image: np.ndarray, max_proposals: int = MAX_PROPOSALS,
                     min_side: float = 4.0) -> np.ndarray:
    """Selective search "fast" proposals (Uijlings et al. 2013) of one image (h, w, c) in [0, 1].

    OpenCV's implementation (`cv2.ximgproc.segmentation`). Its hierarchical
    grouping ranks the regions with random numbers, so its order differs from
    run to run while its set of boxes does not: the boxes are returned sorted
    (x1, y1, x2, y2), duplicates and boxes thinner than `min_side` removed,
    and beyond `max_proposals` a seeded random subset of them is kept (the
    paper's "~2000"; MNIST canvases give tens). Returns (P, 4) pixel edges.
    """
    cv2, segmentation = _opencv()
    cv2.setNumThreads(1)
    pixels = np.clip(np.asarray(image, "float32") * 255.0 + 0.5, 0, 255).astype("uint8")
    if pixels.ndim == 2 or pixels.shape[-1] == 1:
        pixels = np.repeat(pixels.reshape(*pixels.shape[:2], 1), 3, axis=-1)
    search = segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(np.ascontiguousarray(pixels[..., :3]))
    search.switchToSelectiveSearchFast()
    rects = np.asarray(search.process(), "float32").reshape(-1, 4)  # (x, y, w, h)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    boxes = boxes[(rects[:, 2] >= min_side) & (rects[:, 3] >= min_side)]
    boxes = np.unique(boxes, axis=0)  # sorted, so the same image gives the same array
    if len(boxes) > max_proposals:
        keep = np.random.default_rng(0).choice(len(boxes), max_proposals, replace=False)
        boxes = boxes[np.sort(keep)]
    return boxes


def warp_regions(image: np.ndarray, boxes: np.ndarray, size: int,
                 context: int = CONTEXT) -> np.ndarray:
    """Each box of one image (h, w, c), dilated for `context` and warped to size × size.

    Section 2.1 / Appendix A: whatever its aspect ratio, the box is stretched
    to (size − 2·context) pixels square, with `context` warped pixels of the
    image around it on every side; pixels beyond the image are 0 (the image
    mean, after the authors' mean subtraction; here the canvas's black).
    Bilinear sampling. Returns float32 (B, size, size, c).
    """
    image = np.asarray(image, "float32")
    height, width, channels = image.shape
    boxes = np.asarray(boxes, "float32").reshape(-1, 4)
    inner = size - 2 * context
    steps = np.arange(size, dtype="float32") + 0.5 - context  # warped pixel centres
    xs = boxes[:, :1] + steps * ((boxes[:, 2:3] - boxes[:, :1]) / inner) - 0.5
    ys = boxes[:, 1:2] + steps * ((boxes[:, 3:4] - boxes[:, 1:2]) / inner) - 0.5
    padded = np.pad(image, [(1, 1), (1, 1), (0, 0)])  # zeros one pixel beyond every edge
    x0, y0 = np.floor(xs), np.floor(ys)
    fx, fy = (xs - x0)[:, None, :, None], (ys - y0)[:, :, None, None]
    ix = [np.clip(x0 + d, -1, width).astype(int) + 1 for d in (0, 1)]
    iy = [np.clip(y0 + d, -1, height).astype(int) + 1 for d in (0, 1)]

    def at(row, col):  # (B, size, size, c)
        return padded[row[:, :, None], col[:, None, :]]

    top = at(iy[0], ix[0]) * (1 - fx) + at(iy[0], ix[1]) * fx
    bottom = at(iy[1], ix[0]) * (1 - fx) + at(iy[1], ix[1]) * fx
    return (top * (1 - fy) + bottom * fy).astype("float32")


def box_deltas(proposals, truths) -> np.ndarray:
    """Appendix C's regression targets t (N, 4) that move each proposal P onto its truth G."""
    p, g = np.asarray(proposals, "float64"), np.asarray(truths, "float64")
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    return np.stack([(g[:, 0] + gw / 2 - p[:, 0] - pw / 2) / pw,
                     (g[:, 1] + gh / 2 - p[:, 1] - ph / 2) / ph,
                     np.log(gw / pw), np.log(gh / ph)], axis=1).astype("float32")


def apply_box_deltas(proposals, deltas) -> np.ndarray:
    """Ĝ from P and d(P) (Appendix C): the inverse of `box_deltas`."""
    p, d = np.asarray(proposals, "float64"), np.asarray(deltas, "float64")
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    cx, cy = p[:, 0] + pw / 2 + pw * d[:, 0], p[:, 1] + ph / 2 + ph * d[:, 1]
    w, h = pw * np.exp(np.clip(d[:, 2], -4, 4)), ph * np.exp(np.clip(d[:, 3], -4, 4))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype("float32")


def non_max_suppression(boxes, scores, threshold: float = NMS_IOU) -> np.ndarray:
    """Greedy NMS: indices kept, best first; a box overlapping a kept one by IoU > threshold
    is dropped (the paper's per-class rule; its code's threshold 0.3)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    overlaps = box_iou(boxes, boxes)
    keep, dropped = [], np.zeros(len(order), bool)
    for i in order:
        if dropped[i]:
            continue
        keep.append(int(i))
        dropped |= overlaps[i] > threshold
    return np.array(keep, "int64")


# --- The rules of the SVMs and the box regressors, in keras.ops ----------------------------

def hinge_svm(features, targets, c: float = SVM_C, positive_weight: float = POSITIVE_WEIGHT,
              steps: int = SVM_STEPS):
    """Linear SVMs, one per column of `targets`, by subgradient descent on the primal.

    Minimises ½‖w_k‖² + C·Σ_i a_ik·max(0, 1 − y_ik·w_kᵀx_i) for every class k at once,
    where `targets` y (N, K) is +1 (a positive of k), −1 (a negative) or 0 (not in k's
    training set) and a_ik is `positive_weight` for positives, 1 for negatives: the
    problem liblinear solves for the authors (its bias is a feature of `features`).
    Steps of 1/t (Pegasos; Shalev-Shwartz et al. 2007), which make w the running mean
    of C·Σ a·y·x over the margin violators. Returns W (F, K).
    """
    x = ops.convert_to_tensor(np.asarray(features, "float32"))
    y = ops.convert_to_tensor(np.asarray(targets, "float32"))
    weight = ops.convert_to_tensor(np.float32(c) * np.where(
        np.asarray(targets) > 0, np.float32(positive_weight), np.float32(1.0))
        * np.abs(np.asarray(targets, "float32")))
    return _svm_steps(int(steps))(x, y, weight)


@functools.lru_cache(maxsize=8)
def _svm_steps(steps: int):
    def run(x, y, weight):
        def step(index, w):
            violators = ops.cast(y * ops.matmul(x, w) < 1.0, "float32") * weight * y
            return w - (w - ops.matmul(ops.transpose(x), violators)) / ops.cast(index + 1,
                                                                               "float32")

        return ops.fori_loop(0, steps, step, ops.zeros((ops.shape(x)[1], ops.shape(y)[1])))

    return backend.compiled_reader(run, [])  # one graph (TensorFlow, JAX) for all the steps


def svm_objective(w, features, targets, c: float = SVM_C,
                  positive_weight: float = POSITIVE_WEIGHT) -> np.ndarray:
    """The SVMs' primal objectives (K,), for checking `hinge_svm` (NumPy)."""
    w, x, y = (np.asarray(v, "float64") for v in (ops.convert_to_numpy(w), features, targets))
    weight = c * np.where(y > 0, positive_weight, 1.0) * np.abs(y)
    return 0.5 * (w ** 2).sum(axis=0) + (weight * np.maximum(0, 1 - y * (x @ w))).sum(axis=0)


def ridge(features, targets, penalty: float = RIDGE):
    """Ridge regression in closed form: W = (XᵀX + λI)⁻¹ XᵀT, by keras.ops.linalg.solve."""
    x = ops.convert_to_tensor(np.asarray(features, "float32"))
    t = ops.convert_to_tensor(np.asarray(targets, "float32"))
    gram = ops.matmul(ops.transpose(x), x) + penalty * ops.eye(x.shape[1])
    return ops.linalg.solve(gram, ops.matmul(ops.transpose(x), t))


# --- The model -----------------------------------------------------------------------------

def _check_images(images, channels: int, name: str = "images") -> np.ndarray:
    """Canvases (N, h, w, c) or (N, h, w) as float32 in [0, 1] (uint8: grey levels / 255)."""
    array = validation.as_numeric(images, name)
    given = np.asarray(images).shape
    if array.ndim == 3 and channels == 1:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] != channels or min(array.shape[1:3]) < 2:
        raise ValueError(f"`{name}` must be images of shape (N, height, width, {channels}) "
                         f"(or (N, height, width) for one channel), got shape {given}.")
    if np.issubdtype(np.asarray(images).dtype, np.integer):  # grey levels 0..255
        validation.check_in_range(array, 0, 255, name)
        return array / np.float32(255)
    validation.check_unit_pixels(array, name)
    return array


def _check_boxes(boxes, count: int, name: str = "boxes") -> list[np.ndarray]:
    if not isinstance(boxes, (list, tuple)) or len(boxes) != count:
        raise ValueError(f"`{name}` must be a list of {count} arrays (one per image) of "
                         "boxes (K, 4) as (x1, y1, x2, y2).")
    checked = []
    for number, value in enumerate(boxes):
        array = np.asarray(value, "float32").reshape(-1, 4) if np.size(value) else \
            np.zeros((0, 4), "float32")
        if not np.all(np.isfinite(array)) or np.any(array[:, 2:] <= array[:, :2]):
            raise ValueError(f"`{name}[{number}]` must hold finite boxes (x1, y1, x2, y2) with "
                             "x1 < x2 and y1 < y2.")
        checked.append(array)
    return checked


def _check_labels(classes, boxes: list[np.ndarray], count: int) -> list[np.ndarray]:
    if not isinstance(classes, (list, tuple)) or len(classes) != len(boxes):
        raise ValueError(f"`classes` must be a list of {len(boxes)} arrays of class ids, one "
                         "per image and one id per box.")
    checked = []
    for number, (value, box) in enumerate(zip(classes, boxes)):
        array = np.asarray(value).reshape(-1)
        if len(array) != len(box):
            raise ValueError(f"`classes[{number}]` has {len(array)} ids for {len(box)} boxes.")
        if len(array) and (np.any(array != np.round(array)) or array.min() < 0
                           or array.max() >= count):
            raise ValueError(f"`classes[{number}]` must hold class ids in 0..{count - 1}, got "
                             f"{array.tolist()}.")
        checked.append(array.astype("int32"))
    return checked


@keras.saving.register_keras_serializable(package="keras_history")
class RCNN(MomentumClassifier):
    """R-CNN's window classifier, SVMs and box regressors. See `rcnn()`.

    As a Keras model it is the CNN: warped windows (N, 28, 28, 1) in, the
    (classes + 1)-way softmax out (the last class is background), trained by
    SGD with momentum and weight decay (its `fit` is the fine-tuning rule).
    Its non-trainable weights hold the detector: the SVMs (`svm_kernel`), the
    box regressors (`box_kernel`) and the feature scales, so a `.keras` file
    keeps a trained detector whole.
    """

    paper_learning_rate = FINE_TUNE_RATE

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 context: int = CONTEXT, weight_decay: float = 5e-4, seed: int | None = None,
                 **kwargs):
        for option in ("include_top", "pooling", "classifier_activation", "width"):
            kwargs.pop(option, None)
        super().__init__(input_shape, int(classes) + 1, True, weight_decay, **kwargs)
        self.object_classes, self.background = int(classes), int(classes)
        self.context, self.seed = int(context), seed

        def init(number: int):
            return keras.initializers.GlorotUniform(seed=None if seed is None else seed + number)

        self.feature_layers = [
            layers.Conv2D(32, 5, activation="relu", kernel_initializer=init(1), name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 5, activation="relu", kernel_initializer=init(2), name="conv2"),
            layers.MaxPooling2D(2, name="pool5"),  # the paper's pool5: box regression's input
            layers.Flatten(name="flatten"),
        ]
        self.top_layers = [
            layers.Dense(256, activation="relu", kernel_initializer=init(3), name="fc6"),
            layers.Dense(256, activation="relu", kernel_initializer=init(4), name="fc7"),
            layers.Dense(self.classes, activation="softmax", kernel_initializer=init(5),
                         name="predictions", dtype="float32"),
        ]

    def build(self, input_shape):
        super().build(input_shape)
        shape = (None, *self.image_shape)
        for layer in self.feature_layers:
            shape = layer.compute_output_shape(shape)
        self.pool5_units = int(shape[-1])
        self.fc7_units = self.top_layers[1].units
        classes = self.object_classes
        self.svm_kernel = self.add_weight((self.fc7_units + 1, classes), "zeros",
                                          trainable=False, name="svm_kernel")
        self.box_kernel = self.add_weight((classes, self.pool5_units + 1, 4), "zeros",
                                          trainable=False, name="box_kernel")
        # fc7's and pool5's scale to a mean norm of 20; 0 until the SVMs are trained.
        self.feature_scales = self.add_weight((2,), "zeros", trainable=False,
                                              name="feature_scales")

    # --- features ----------------------------------------------------------------------

    def embed(self, windows):
        """(pool5, fc7) of a batch of windows: box regression's and the SVMs' features."""
        x = self.as_images(windows)
        for layer in self.feature_layers:
            x = layer(x)
        pool5 = x
        for layer in self.top_layers[:2]:
            x = layer(x)
        return pool5, x

    def features(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pool5 (N, 1024), fc7 (N, 256)) of warped windows, as NumPy."""
        pool5, fc7 = [], []
        for start in range(0, len(windows), INFERENCE_BATCH):
            chunk = np.asarray(windows[start:start + INFERENCE_BATCH], "float32")
            # Padded to a power of two (32 at least): a handful of shapes, each compiled
            # once (JAX compiles every new shape its eager ops meet).
            size = max(32, 1 << (len(chunk) - 1).bit_length())
            padded = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]),
                                                     "float32")])
            a, b = self.embed(ops.convert_to_tensor(padded))
            pool5.append(ops.convert_to_numpy(a)[:len(chunk)])
            fc7.append(ops.convert_to_numpy(b)[:len(chunk)])
        if not pool5:
            return (np.zeros((0, self.pool5_units), "float32"),
                    np.zeros((0, self.fc7_units), "float32"))
        return np.concatenate(pool5), np.concatenate(fc7)

    def warp(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """`warp_regions` to this net's input, with its context."""
        return warp_regions(image, boxes, self.image_shape[0], self.context)

    def proposals(self, images, max_proposals: int = MAX_PROPOSALS) -> list[np.ndarray]:
        """Selective search's boxes for each image (`selective_search`)."""
        images = _check_images(images, self.image_shape[-1])
        return [selective_search(image, max_proposals) for image in images]

    def _inputs(self, images, boxes=None, classes=None, proposals=None):
        images = _check_images(images, self.image_shape[-1])
        if boxes is not None:
            boxes = _check_boxes(boxes, len(images))
            classes = _check_labels(classes, boxes, self.object_classes)
        if proposals is None:
            proposals = [selective_search(image) for image in images]
        else:
            proposals = _check_boxes(proposals, len(images), "proposals")
        return images, boxes, classes, proposals

    def _regions(self, images, boxes, classes, proposals):
        """Every training region (ground truths first), its image, its truth's IoU and class."""
        rows = []
        for n, (truth, label, found) in enumerate(zip(boxes, classes, proposals)):
            regions = np.concatenate([truth, found])
            overlaps = box_iou(regions, truth) if len(truth) else np.zeros((len(regions), 0))
            best = overlaps.argmax(axis=1) if len(truth) else np.zeros(len(regions), int)
            iou = overlaps.max(axis=1) if len(truth) else np.zeros(len(regions))
            rows.append((n, regions, iou, label[best] if len(truth) else
                         np.full(len(regions), -1), truth[best] if len(truth) else regions,
                         np.arange(len(regions)) < len(truth), overlaps))
        return rows

    # --- the stages ----------------------------------------------------------------------

    def pretrain(self, x, y, epochs: int = 1, batch_size: int = BATCH,
                 learning_rate: float = PRETRAIN_RATE, **fit_options):
        """Supervised pre-training (Section 2.3): classify whole digits (N, 28, 28) with labels
        0..classes-1, by the same SGD at the pre-training rate; the rate is set back after."""
        return self._fit_at(learning_rate, x, y, epochs=epochs, batch_size=batch_size,
                            **fit_options)

    def _fit_at(self, learning_rate: float, x, y, **fit_options):
        before = float(ops.convert_to_numpy(self.optimizer.learning_rate))
        self.optimizer.learning_rate = learning_rate
        try:
            return self.fit(x, y, **fit_options)
        finally:
            self.optimizer.learning_rate = before

    def fine_tuning_windows(self, images, boxes, classes, proposals=None, batches: int = 50,
                            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`batches` fine-tuning batches of 128 warped windows: each 32 positives (IoU >= 0.5
        to a ground truth; its class) and 96 background (class `classes`), drawn uniformly
        from the canvases' ground truths and proposals. Returns (x, y), batch after batch."""
        images, boxes, classes, proposals = self._inputs(images, boxes, classes, proposals)
        windows, labels = [], []
        for n, regions, iou, label, _, _, _ in self._regions(images, boxes, classes, proposals):
            windows.append(self.warp(images[n], regions))
            labels.append(np.where(iou >= FOREGROUND_IOU, label, self.background))
        windows, labels = np.concatenate(windows), np.concatenate(labels).astype("int32")
        positive = np.nonzero(labels != self.background)[0]
        negative = np.nonzero(labels == self.background)[0]
        if not len(positive) or not len(negative):
            raise ValueError("fine-tuning needs both positive and background windows: give "
                             "canvases with objects and proposals that miss them.")
        rng = np.random.default_rng(seed)
        picks = np.concatenate([np.concatenate([
            rng.choice(positive, POSITIVES), rng.choice(negative, BATCH - POSITIVES)])
            for _ in range(batches)])
        return windows[picks], labels[picks]

    def fine_tune(self, images, boxes, classes, proposals=None, batches: int = 50,
                  epochs: int = 1, seed: int = 0, **fit_options):
        """Fine-tuning (Section 2.3): `fit` on `fine_tuning_windows`, batches of 128 in order."""
        x, y = self.fine_tuning_windows(images, boxes, classes, proposals, batches, seed)
        fit_options.setdefault("verbose", 0)
        return self.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, **fit_options)

    def _scaled(self, features: np.ndarray, which: int, extra: float) -> np.ndarray:
        scale = float(ops.convert_to_numpy(self.feature_scales[which]))
        return np.concatenate([features * scale, np.full((len(features), 1), extra, "float32")],
                              axis=1)

    def train_svms(self, images, boxes, classes, proposals=None, rounds: int = MINING_ROUNDS,
                   steps: int = SVM_STEPS, seed: int = 0) -> list[dict]:
        """The per-class linear SVMs on fc7 (Section 2.3, Appendix B), by hard-negative mining.

        Positives: the ground-truth boxes of the class; negatives: proposals with
        IoU < 0.3 to every instance of the class. The first round trains on the
        positives and a random three negatives per positive; each later round
        scores every negative, adds the hard ones (score > −1.0001, inside the
        margin) to the cache and drops the easy cached ones (< −1.2), then
        retrains, until no negative is newly hard. Returns, per round, the
        cached negatives and the hard ones found.
        """
        images, boxes, classes, proposals = self._inputs(images, boxes, classes, proposals)
        windows, targets = [], []
        for n, regions, _, _, _, is_truth, overlaps in self._regions(images, boxes, classes,
                                                                     proposals):
            windows.append(self.warp(images[n], regions))
            target = np.zeros((len(regions), self.object_classes), "float32")
            for k in range(self.object_classes):
                of_k = classes[n] == k
                near = overlaps[:, of_k].max(axis=1) if of_k.any() else np.zeros(len(regions))
                target[is_truth, k] = np.where(classes[n] == k, 1.0, 0.0)
                target[~is_truth & (near < NEGATIVE_IOU), k] = -1.0
            targets.append(target)
        fc7 = self.features(np.concatenate(windows))[1]  # every image's windows at once
        targets = np.concatenate(targets)
        norm = float(np.mean(np.linalg.norm(fc7, axis=1)))
        self.feature_scales.assign(np.array(
            [FEATURE_NORM / max(norm, 1e-12), float(ops.convert_to_numpy(self.feature_scales[1]))],
            "float32"))
        x = self._scaled(fc7, 0, BIAS_FEATURE)
        negatives = targets < 0
        rng = np.random.default_rng(seed)
        cache = np.zeros_like(negatives)
        for k in range(self.object_classes):
            pool = np.nonzero(negatives[:, k])[0]
            first = 3 * int((targets[:, k] > 0).sum())
            cache[rng.choice(pool, min(first, len(pool)), replace=False), k] = True
        history = []
        for _ in range(max(1, int(rounds))):
            w = hinge_svm(x, np.where(targets > 0, 1.0, np.where(cache, -1.0, 0.0)),
                          steps=steps)
            scores = x @ ops.convert_to_numpy(w)
            hard = negatives & (scores > HARD)
            new = hard & ~cache
            history.append({"cached": int(cache.sum()), "hard": int(hard.sum()),
                            "new": int(new.sum())})
            if not new.any():
                break
            cache = (cache & ~(scores < EASY)) | hard
        self.svm_kernel.assign(w)
        return history

    def train_box_regressors(self, images, boxes, classes, proposals=None,
                             penalty: float = RIDGE) -> dict:
        """Class-specific box regression (Appendix C): ridge (λ = 1000) from pool5 features of
        the proposals with IoU > 0.6 to a ground truth to `box_deltas`. Returns the pairs per
        class."""
        images, boxes, classes, proposals = self._inputs(images, boxes, classes, proposals)
        windows, deltas, labels = [], [], []
        for n, regions, iou, label, truth, is_truth, _ in self._regions(images, boxes, classes,
                                                                      proposals):
            chosen = (iou > BOX_IOU) & ~is_truth
            if chosen.any():
                windows.append(self.warp(images[n], regions[chosen]))
                deltas.append(box_deltas(regions[chosen], truth[chosen]))
                labels.append(label[chosen])
        if not windows:
            raise ValueError("no proposal overlaps a ground truth by IoU > 0.6: nothing to "
                             "learn box regression from.")
        pool5 = self.features(np.concatenate(windows))[0]
        deltas, labels = np.concatenate(deltas), np.concatenate(labels)
        norm = float(np.mean(np.linalg.norm(pool5, axis=1)))
        self.feature_scales.assign(np.array(
            [float(ops.convert_to_numpy(self.feature_scales[0])),
             FEATURE_NORM / max(norm, 1e-12)], "float32"))
        x = self._scaled(pool5, 1, 1.0)
        kernel = np.zeros((self.object_classes, x.shape[1], 4), "float32")
        pairs = {}
        for k in range(self.object_classes):
            mine = labels == k
            pairs[k] = int(mine.sum())
            if mine.any():
                kernel[k] = ops.convert_to_numpy(ridge(x[mine], deltas[mine], penalty))
        self.box_kernel.assign(kernel)
        return pairs

    def train_detector(self, images, boxes, classes, proposals=None, batches: int = 50,
                       epochs: int = 1, svm_rounds: int = MINING_ROUNDS, seed: int = 0,
                       **fit_options) -> dict:
        """Fine-tuning, the SVMs and the box regressors, on the same canvases and proposals
        (pre-train first: `pretrain`). Returns what each stage reports."""
        images, boxes, classes, proposals = self._inputs(images, boxes, classes, proposals)
        history = self.fine_tune(images, boxes, classes, proposals, batches, epochs, seed,
                                 **fit_options)
        mining = self.train_svms(images, boxes, classes, proposals, svm_rounds, seed=seed)
        pairs = self.train_box_regressors(images, boxes, classes, proposals)
        return {"fine_tuning": history.history, "mining": mining, "box_pairs": pairs}

    def detect(self, images, proposals=None, regress: bool = True,
               score_threshold: float = -1.0, max_detections: int = 100
               ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Detections: (boxes, scores, classes), each a list with one array per image.

        Every proposal (selective search's, unless given) is warped, scored by each
        class's SVM, moved by that class's box regressor (`regress`), and per class
        greedy NMS at IoU 0.3 keeps the best of overlapping boxes. Boxes (K, 4) are
        (x1, y1, x2, y2) clipped to the image, scores (K,) the SVMs' margins above
        `score_threshold`, at most `max_detections` per image, best first.
        """
        if float(ops.convert_to_numpy(self.feature_scales[0])) == 0.0:
            raise ValueError(f"{self.name}'s SVMs are not trained yet: `train_detector` (or "
                             "`train_svms`) first.")
        validation.check_option("score_threshold", score_threshold,
                                validation.is_finite_number(score_threshold), "a finite number")
        validation.check_option("max_detections", max_detections,
                                validation.is_integer(max_detections) and max_detections >= 1,
                                "an integer >= 1")
        images, _, _, proposals = self._inputs(images, proposals=proposals)
        svm = ops.convert_to_numpy(self.svm_kernel)
        regressors = ops.convert_to_numpy(self.box_kernel)
        # Every image's windows through the CNN at once, then each image's own.
        every_pool5, every_fc7 = self.features(np.concatenate(
            [self.warp(image, found) for image, found in zip(images, proposals)]))
        ends = np.cumsum([len(found) for found in proposals])
        all_boxes, all_scores, all_classes = [], [], []
        for image, found, end in zip(images, proposals, ends):
            height, width = image.shape[:2]
            pool5, fc7 = every_pool5[end - len(found):end], every_fc7[end - len(found):end]
            scores = self._scaled(fc7, 0, BIAS_FEATURE) @ svm
            x5 = self._scaled(pool5, 1, 1.0) if regress else None
            kept = []
            for k in range(self.object_classes):
                chosen = np.nonzero(scores[:, k] > score_threshold)[0]
                if not len(chosen):
                    continue
                moved = found[chosen]
                if regress:
                    moved = apply_box_deltas(moved, x5[chosen] @ regressors[k])
                moved = np.clip(moved, 0, [width, height, width, height]).astype("float32")
                valid = (moved[:, 2] > moved[:, 0]) & (moved[:, 3] > moved[:, 1])
                moved, chosen = moved[valid], chosen[valid]
                for i in non_max_suppression(moved, scores[chosen, k]):
                    kept.append((scores[chosen[i], k], moved[i], k))
            kept.sort(key=lambda d: -d[0])
            kept = kept[:max_detections]
            all_boxes.append(np.array([d[1] for d in kept], "float32").reshape(-1, 4))
            all_scores.append(np.array([d[0] for d in kept], "float32"))
            all_classes.append(np.array([d[2] for d in kept], "int32"))
        return all_boxes, all_scores, all_classes

    def get_config(self) -> dict:
        config = super().get_config()
        for option in ("include_top", "pooling", "classifier_activation", "width"):
            config.pop(option)
        return {**config, "classes": self.object_classes, "context": self.context,
                "seed": self.seed}


def _check_options(input_shape, classes, context, learning_rate, weight_decay, seed) -> None:
    dims = validation.check_image_shape(input_shape)
    validation.check_option(
        "input_shape", input_shape, dims[0] == dims[1] and dims[0] >= MINIMUM_SIZE,
        f"square windows of at least {MINIMUM_SIZE}×{MINIMUM_SIZE} (two 5×5 convolutions and "
        "two poolings), e.g. (28, 28, 1)")
    validation.check_classes(classes)
    validation.check_option(
        "context", context,
        validation.is_integer(context) and 0 <= context and 2 * context < dims[0],
        f"an integer >= 0 and below half the window ({dims[0]}): warped pixels around a box")
    validation.check_option("learning_rate", learning_rate,
                            validation.is_finite_number(learning_rate) and learning_rate > 0,
                            "a positive, finite number")
    validation.check_option("weight_decay", weight_decay,
                            validation.is_finite_number(weight_decay) and weight_decay >= 0,
                            "a finite number >= 0")
    validation.check_seed(seed)


@milestone("rcnn")
def rcnn(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
         context: int = CONTEXT, learning_rate: float = FINE_TUNE_RATE,
         weight_decay: float = 5e-4, seed: int | None = None, weights: str | None = None,
         compile: bool = True, name: str = "rcnn") -> RCNN:
    """Girshick, Donahue, Darrell & Malik's R-CNN (2014), in miniature on MNIST canvases.

    The CNN reads warped 28 × 28 windows: conv1 32 5×5 ReLU → pool → conv2 64
    5×5 ReLU → pool5 (4×4×64) → fc6 256 ReLU → fc7 256 ReLU → (classes + 1)-way
    softmax, the last class background. `fit(windows, labels)` is its rule:
    backpropagation with SGD + momentum 0.9 and weight decay 0.0005 (AlexNet's),
    at the fine-tuning rate 0.001. The detector around it:

    - `pretrain(digits, labels)`: supervised pre-training on whole MNIST digits
      (the paper's ILSVRC classification), at the rate 0.01;
    - `fine_tune(canvases, boxes, classes)`: SGD on selective-search proposals
      warped with `context` pixels around them, batches of 32 positives
      (IoU >= 0.5) and 96 background;
    - `train_svms(...)`: a linear SVM per class on fc7 with hard-negative mining
      (ground truths positive, IoU < 0.3 negative);
    - `train_box_regressors(...)`: ridge (λ = 1000) from pool5 to box offsets;
    - `train_detector(...)`: the three in turn; `detect(canvases)`: per-class
      scores, regressed boxes and NMS, scored by
      `keras_history.metrics.mean_average_precision` (VOC: the paper's 54.2 mAP
      without box regression, 58.5 with, on VOC 2007 test).

    Example:

    ```python
    (x, y), _ = keras_history.datasets.mnist.load_sample()
    (train, test) = keras_history.datasets.mnist_detection.load_sample(100, 20)
    model = keras_history.models.rcnn(seed=0)
    model.pretrain(x, y, epochs=2)
    model.train_detector(*train)
    boxes, scores, classes = model.detect(test[0])
    keras_history.metrics.mean_average_precision(boxes, scores, classes, *test[1:])
    ```

    Args:
        input_shape: the warped window, square, channels last (the canvases' channels).
        classes: object classes (the softmax has one more: background).
        context: warped pixels of image around each box (the paper: 16 of 227).
        learning_rate: SGD's rate for `fit` and fine-tuning (the paper's 0.001).
        weight_decay: added to the gradient (AlexNet's 0.0005).
        seed: seed of the initial weights (None: Keras's global seed).
        weights: None (untrained), or the path of a `.weights.h5`/`.keras` file.
        compile: compile with SGD(learning_rate, momentum=0.9) and accuracy.
        name: the model's name.

    Returns:
        A built `RCNN`; needs the `rcnn` extra (OpenCV's contrib modules) for proposals.
    """
    _check_options(input_shape, classes, context, learning_rate, weight_decay, seed)
    model = RCNN(tuple(input_shape), classes, context=context, weight_decay=weight_decay,
                 seed=seed, name=name)
    return with_weights(finish(model, learning_rate, compile), "rcnn", weights)
