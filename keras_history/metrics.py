"""Scores for generative models: the Gaussian Parzen-window log-likelihood.

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


__all__ = ["SIGMAS", "ParzenResult", "parzen_log_densities", "parzen_log_likelihood"]
