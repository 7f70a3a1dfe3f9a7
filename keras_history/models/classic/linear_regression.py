"""Linear regression by gradient descent.

Put Legendre's cost and Cauchy's method together and you have the workhorse
of machine learning: guess a line, measure the mean squared error, and step
the intercept b and slope m against its gradient. The seed snippet fits the
price of bread to the price of wheat with the gradients derived by hand:

    b_gradient += -(2/N) * (y - ((m * x) + b))
    m_gradient += -(2/N) * x * (y - ((m * x) + b))

From b = m = 1 with learning rate 0.01, 100 full-batch steps end at
b = 3.30446237, m = 2.96606269. Least squares would jump straight to the
answer; descent creeps towards it, which is the point: it is the method
that still works when no closed form exists.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_history.building import build_for
from keras_history.models.base import LinearModel, compiled_for_rule
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["LinearRegression", "linear_regression"]


@keras.saving.register_keras_serializable(package="keras_history")
class LinearRegression(LinearModel):
    """`y = x·m + b` trained by hand-derived gradient descent. See `linear_regression()`."""

    default_learning_rate = 0.01  # the snippet's

    def rule(self, x, y):
        y_pred = self(x)
        residual = y - y_pred
        n = ops.cast(ops.shape(x)[0], residual.dtype)
        bias_gradient = -(2.0 / n) * ops.sum(residual, axis=0)
        kernel_gradient = -(2.0 / n) * ops.matmul(ops.transpose(x), residual)
        self.bias.assign(self.bias - self.learning_rate * bias_gradient)
        self.kernel.assign(self.kernel - self.learning_rate * kernel_gradient)
        return y_pred, ops.mean(ops.square(residual))


@milestone("linear_regression")
def linear_regression(learning_rate: float = LinearRegression.default_learning_rate,
                      initial_intercept: float = 1.0, initial_slope: float = 1.0, units: int = 1,
                      input_dim: int | None = None, steps_per_batch: int = 1,
                      weights: str | None = None, compile: bool = True,
                      name: str = "linear_regression") -> LinearRegression:
    """A line fitted by gradient descent on the mean squared error.

    Each training step is one step of full-batch gradient descent on the
    batch it is given; feed the whole data set as one batch to reproduce the
    snippet (the default `batch_size=32` already does for small data).

    Example:

    ```python
    x, y = keras_history.datasets.wheat_and_bread()
    model = keras_history.models.linear_regression()
    model.fit(x, y, epochs=100)  # b = 3.30446237, m = 2.96606269
    ```

    Args:
        learning_rate: the step size.
        initial_intercept: b before training.
        initial_slope: every entry of m before training.
        units: number of outputs (columns of `y`).
        input_dim: number of input features; None to take it from the first data.
        steps_per_batch: rule steps per batch (see `LearningRuleModel`).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("linear_regression")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        A `LinearRegression` model.
    """
    model = LinearRegression(
        units=units,
        kernel_initializer=keras.initializers.Constant(initial_slope),
        bias_initializer=keras.initializers.Constant(initial_intercept),
        steps_per_batch=steps_per_batch,
        name=name,
    )
    build_for(model, None if input_dim is None else (input_dim,))
    model = compiled_for_rule(model, learning_rate, compile)
    return with_weights(model, "linear_regression", weights)
