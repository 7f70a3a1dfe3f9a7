"""Least squares (Adrien-Marie Legendre, 1805).

Legendre, fitting comet orbits, proposed choosing the line that makes the sum
of squared errors smallest, and showed the best line solves a small linear
system, the *normal equations*: (XᵀX) m = Xᵀy. No iteration is needed.

The seed snippet measured the cost of a guessed line:

    def compute_error_for_line_given_points(b, m, coordinates):
        ...totalError += (y - (m * x + b)) ** 2
        return totalError / float(len(coordinates))

For m=2, b=1 on [[3, 6], [6, 9], [12, 18]] that is (1 + 16 + 49) / 3 = 22.

`fit` here never guesses: each batch adds its sufficient statistics (count,
means, centred cross-products, merged as in Chan et al. 1979 so float32 stays
accurate) to running totals and the weights are re-solved from them. After
one pass over the data the fit is exact, whatever the batch size; further
passes or more data keep refining the same totals. The logged `loss` is the
cost of the line just solved, on all the data seen, so it equals `evaluate`
on that data right after `fit`.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_history.building import build_for
from keras_history.models.base import LinearModel
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["LeastSquares", "least_squares"]


@keras.saving.register_keras_serializable(package="keras_history")
class LeastSquares(LinearModel):
    """`y = x·m + b` fitted by the normal equations. See `least_squares()`."""

    logs_latest = True  # `rule` returns the cost of the line it solved, not of the last guess

    def build(self, input_shape):
        super().build(input_shape)
        features = input_shape[-1]

        def statistic(name, shape):
            return self.add_weight(shape=shape, name=name, initializer="zeros",
                                   trainable=False)

        self.count = statistic("count", ())
        self.x_mean = statistic("x_mean", (features,))
        self.y_mean = statistic("y_mean", (self.units,))
        self.xx = statistic("xx", (features, features))  # Σ (x − x̄)(x − x̄)ᵀ
        self.xy = statistic("xy", (features, self.units))  # Σ (x − x̄)(y − ȳ)ᵀ
        self.yy = statistic("yy", (self.units,))  # Σ (y − ȳ)², per output

    def rule(self, x, y):
        y_pred = self(x)
        n_batch = ops.cast(ops.shape(x)[0], self.count.dtype)
        x_batch, y_batch = ops.mean(x, axis=0), ops.mean(y, axis=0)
        dx, dy = x - x_batch, y - y_batch
        n = self.count + n_batch
        shift_x, shift_y = x_batch - self.x_mean, y_batch - self.y_mean
        weight = self.count * n_batch / n
        self.xx.assign(self.xx + ops.matmul(ops.transpose(dx), dx)
                       + weight * ops.outer(shift_x, shift_x))
        self.xy.assign(self.xy + ops.matmul(ops.transpose(dx), dy)
                       + weight * ops.outer(shift_x, shift_y))
        self.yy.assign(self.yy + ops.sum(ops.square(dy), axis=0) + weight * ops.square(shift_y))
        self.x_mean.assign(self.x_mean + shift_x * n_batch / n)
        self.y_mean.assign(self.y_mean + shift_y * n_batch / n)
        self.count.assign(n)

        # The normal equations on centred data. A ridge of a millionth of the mean
        # variance keeps them solvable before there are more points than features
        # (the answer is then the smallest slope that fits); on well-conditioned
        # data it moves the answer by about 1e-6, below float32's own noise.
        features = self.xx.shape[0]
        ridge = 1e-6 * ops.mean(ops.diagonal(self.xx)) + 1e-12
        system = self.xx + ridge * ops.eye(features)
        # NaN data (a dataset cannot be checked up front) must give NaN weights for
        # the DivergenceGuard to catch, not TensorFlow's "matrix is not invertible".
        system = ops.where(ops.all(ops.isfinite(system)), system, ops.eye(features))
        slope = ops.solve(system, self.xy)
        self.kernel.assign(slope)
        self.bias.assign(self.y_mean - ops.matmul(self.x_mean, slope))
        return y_pred, self.fitted_cost()

    def fitted_cost(self):
        """The mean squared error of the current line on all the data seen, from the totals.

        The intercept makes the residuals' mean zero, so their sum of squares
        per output is Σ (dy − dx·m)² = yy − 2 m·xy + m·(xx m).
        """
        slope = self.kernel
        squares = (self.yy - 2.0 * ops.sum(slope * self.xy, axis=0)
                   + ops.sum(slope * ops.matmul(self.xx, slope), axis=0))
        total = ops.maximum(ops.sum(squares), 0.0)  # float32 rounding on an exact fit
        return total / (self.count * self.kernel.shape[1])

    def reset_statistics(self) -> None:
        """Forget the data seen so far, so the next `fit` starts a new solve."""
        for variable in self.non_trainable_variables:
            variable.assign(ops.zeros(variable.shape, variable.dtype))


@milestone("least_squares")
def least_squares(units: int | None = None, input_dim: int | None = None,
                  weights: str | None = None, compile: bool = True,
                  name: str = "least_squares") -> LeastSquares:
    """Legendre's least squares: a line (or hyperplane) fitted in closed form.

    `fit` solves the normal equations from statistics accumulated over the
    batches, so one epoch of any batch size gives the exact least-squares
    answer (what `numpy.linalg.lstsq` returns). `evaluate` reports the mean
    squared error, the cost Legendre minimised; so does the logged `loss`,
    for the line solved from the data seen so far. The numbers of inputs and
    outputs are taken from the first `fit`'s `x` and `y`.

    Example:

    ```python
    x, y = keras_history.datasets.wheat_and_bread()
    model = keras_history.models.least_squares()
    model.fit(x, y, epochs=1)
    slope, intercept = model.kernel.numpy(), model.bias.numpy()
    ```

    Args:
        units: number of outputs fitted at once (columns of `y`); None to take
            it from the first `y` (1 if the model is built before, e.g. with
            `input_dim`).
        input_dim: number of input features; None to take it from the first data.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("least_squares")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        A `LeastSquares` model.
    """
    model = build_for(LeastSquares(units=units, name=name),
                      None if input_dim is None else (input_dim,))
    if compile:
        model.compile()
    return with_weights(model, "least_squares", weights)
