"""Gradient descent (Augustin-Louis Cauchy 1847, Peter Debye 1909).

Cauchy, solving systems of equations for astronomy, proposed walking downhill:
from a guess x, take a small step against the slope, and repeat. Debye used
the same idea in 1909 for approximating integrals (the method of steepest
descent). The seed snippet walks down f(x) = x⁵ − 2x³ − 2:

    current_x = 0.5
    for i in range(60):
        current_x += -0.01 * (5 * current_x**4 - 6 * current_x**2)

and ends at x ≈ 1.09284, on its way to the local minimum at √(6/5) ≈ 1.09545.

Here the walker is a Keras model: its one weight, `position`, is x; each
training step moves it by `-learning_rate · f'(x)`, with the slope taken
analytically from the polynomial's coefficients. Calling the model evaluates
f at its inputs, so `model.predict(xs)` draws the curve being descended.
The data fed to `fit` only sets the number of steps: one step per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from keras_history import validation
from keras_history.building import build_for
from keras_history.models.base import LearningRuleModel, compiled_for_rule
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["GradientDescent", "gradient_descent"]

SNIPPET_POLYNOMIAL = (1.0, 0.0, -2.0, 0.0, 0.0, -2.0)  # x⁵ − 2x³ − 2


def polyval(coefficients: Sequence[float], x):
    """Horner's rule in keras.ops; coefficients run from the highest power down."""
    x = ops.convert_to_tensor(x)
    result = ops.zeros_like(x)
    for c in coefficients:
        result = result * x + c
    return result


@keras.saving.register_keras_serializable(package="keras_history")
class GradientDescent(LearningRuleModel):
    """Walks downhill on a polynomial. See `gradient_descent()`."""

    default_learning_rate = 0.01  # the snippet's
    cost_is_a_mean = False  # f(x) does not depend on the data, which only counts steps

    def __init__(self, coefficients: Sequence[float] = SNIPPET_POLYNOMIAL,
                 start: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        given = coefficients
        try:
            coefficients = [] if isinstance(given, (str, bytes)) else [float(c) for c in given]
        except (TypeError, ValueError):  # not a sequence of numbers
            coefficients = []
        validation.check_option(
            "coefficients", given,
            len(coefficients) >= 1 and bool(np.all(np.isfinite(coefficients))),
            "a non-empty sequence of finite numbers, highest power first",
        )
        validation.check_option("start", start, validation.is_finite_number(start),
                                "a finite number")
        self.coefficients = coefficients
        self.slope_coefficients = [float(c) for c in np.polyder(coefficients)] or [0.0]
        self.start = float(start)
        self.position = self.add_weight(
            shape=(), name="position", initializer=keras.initializers.Constant(self.start)
        )
        self.position_tracker = keras.metrics.Mean(name="position")

    def call(self, inputs):
        return polyval(self.coefficients, inputs)

    def slope(self, x):
        """The analytic derivative f'(x)."""
        return polyval(self.slope_coefficients, x)

    def cost(self, y, y_pred):
        return polyval(self.coefficients, self.position)

    # The logs say where the walk stands: f and x after the latest step.
    logs_latest = True

    def rule(self, x, y):
        self.position.assign(self.position - self.learning_rate * self.slope(self.position))
        return None, self.cost(None, None)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # There are no predictions to score: the metric is where the walk stands.
        self.position_tracker.reset_state()
        self.position_tracker.update_state(self.position)
        return self.get_metrics_result()

    needs_targets = False  # the data only counts steps

    def check_data(self, x, y):
        x = validation.as_numeric(x, "x")
        if x.ndim == 0:
            raise ValueError("`x` must have shape (steps, ...), one sample per rule step, "
                             "got a scalar of shape ().")
        if y is not None:
            validation.check_same_length(x, validation.as_numeric(y, "y"))
        return x, y

    def get_config(self) -> dict:
        return {**super().get_config(), "coefficients": self.coefficients,
                "start": self.start}


@milestone("gradient_descent")
def gradient_descent(start: float = 0.5,
                     learning_rate: float = GradientDescent.default_learning_rate,
                     coefficients: Sequence[float] = SNIPPET_POLYNOMIAL,
                     weights: str | None = None,
                     compile: bool = True, name: str = "gradient_descent"
                     ) -> GradientDescent:
    """Cauchy's gradient descent on a polynomial, one step per training batch.

    With the defaults, 60 steps from x = 0.5 reproduce the seed snippet's
    x = 1.0928374 on f(x) = x⁵ − 2x³ − 2; the true local minimum is √(6/5).
    The logs show where the walk stands after each epoch's last step:
    `position` (x) and `loss` (f there, what `evaluate` returns).

    Example:

    ```python
    model = keras_history.models.gradient_descent()
    model.fit(np.zeros((60, 1)), batch_size=1)  # 60 batches: 60 steps
    float(model.position)  # 1.0928374...
    ```

    Args:
        start: where the walk starts.
        learning_rate: the step multiplier.
        coefficients: the polynomial to descend, highest power first
            (as `numpy.polyval`); the default is x⁵ − 2x³ − 2.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("gradient_descent")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        A `GradientDescent` model.
    """
    # Built for a column of x values, so `predict` and `export` know their input.
    model = build_for(GradientDescent(coefficients=coefficients, start=start, name=name), (1,))
    model = compiled_for_rule(model, learning_rate, compile)
    return with_weights(model, "gradient_descent", weights)
