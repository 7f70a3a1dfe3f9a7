"""The CIFAR augmentation of He, Zhang, Ren & Sun (2015), Section 4.2.

"4 pixels are padded on each side, and a 32×32 crop is randomly sampled from
the padded image or its horizontal flip." Each image of a batch gets its own
crop offset and its own coin for the flip; at inference the layer passes
images through unchanged.

The crop is written in `keras.ops` for every backend: with one-hot row and
column selectors R (h × h+2p) and C (w × w+2p) per image, the crop of the
padded image P is R · P · Cᵀ, one einsum, exact (no interpolation).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class PadCropFlip(keras.layers.Layer):
    """Zero-pads by `padding`, crops back to the input size at a random offset, maybe flips.

    Active only in training (`training=True`); channels-last images (N, h, w, c).

    Args:
        padding: pixels of zeros on each side before the crop (the paper's 4).
        flip: also mirror each image left-right with probability 1/2.
        seed: the random seed (None: drawn from Keras's global seed).
    """

    def __init__(self, padding: int = 4, flip: bool = True, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
            raise ValueError(f"`padding` must be an integer >= 0, got {padding!r}.")
        self.padding = padding
        self.flip = bool(flip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _selector(self, offsets, size: int):
        """(N, size, size + 2p): row i of image n picks padded row offsets[n] + i."""
        rows = offsets[:, None] + ops.arange(size, dtype="int32")[None, :]
        return ops.one_hot(rows, size + 2 * self.padding, dtype=self.compute_dtype)

    def call(self, images, training: bool = False):
        if not training:
            return images
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        x = images
        if self.padding:
            p = self.padding
            padded = ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
            offsets = keras.random.randint((2, batch), 0, 2 * p + 1, dtype="int32",
                                           seed=self.seed_generator)
            x = ops.einsum("nip,npqc,njq->nijc", self._selector(offsets[0], height), padded,
                           self._selector(offsets[1], width))
        if self.flip:
            coins = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
            x = ops.where(coins < 0.5, ops.flip(x, axis=2), x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "flip": self.flip,
                "seed": self.seed}
