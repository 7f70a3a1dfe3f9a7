"""The simple recurrent network (Jeffrey Elman, 1990).

In "Finding Structure in Time" (Cognitive Science 14, 1990) Jeffrey Elman
gave a feed-forward net a memory in the simplest way: context units that
hold a copy of the hidden layer's previous activations and feed it back as
extra inputs,

    h(t) = σ(x(t)·W + h(t−1)·U + b),        y(t) = σ(h(t)·V).

Trained by ordinary backpropagation, with the copy treated as just another
input (the error goes back one step), the net learned to predict the next
letter of a text and discovered word boundaries and word classes on its own.

What it cannot learn is to hold on to something for long. On the embedded
Reber grammar, where the second-to-last symbol repeats one seen 6 to 20+
steps before, Hochreiter and Schmidhuber (1997, Table 1) report that an Elman
net with 15 hidden units succeeded in 0% of trials within 200,000 sequences.
"""

from __future__ import annotations

import keras

from keras_history import validation
from keras_history.layers import ElmanRNN
from keras_history.models.recurrent.online import OnlineSequenceModel, built_and_compiled
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["ElmanNetwork", "elman_rnn"]


@keras.saving.register_keras_serializable(package="keras_history")
class ElmanNetwork(OnlineSequenceModel):
    """An `ElmanRNN` hidden layer feeding sigmoid output units, trained online."""

    output_limit = 0.5

    def __init__(self, hidden_units: int = 15, **kwargs):
        super().__init__(**kwargs)
        validation.check_option("hidden_units", hidden_units,
                                validation.is_integer(hidden_units) and hidden_units >= 1,
                                "an integer >= 1")
        self.recurrent = ElmanRNN(hidden_units, truncate=self.gradient == "truncated",
                                  seed=self.seed, name="elman_rnn")

    def get_config(self) -> dict:
        return {**super().get_config(), "hidden_units": self.recurrent.units}


@milestone("elman_rnn")
def elman_rnn(hidden_units: int = 15, learning_rate: float = 0.1, input_features: int = 7,
              units: int = 7, return_sequences: bool = True, output_bias: bool = True,
              gradient: str = "truncated", seed: int | None = None, weights: str | None = None,
              compile: bool = True,
              name: str = "elman_rnn") -> ElmanNetwork:
    """Elman's simple recurrent network, trained online one sequence at a time.

    Defaults are the embedded Reber grammar net of Hochreiter and Schmidhuber's
    comparison (15 hidden units, 7 one-hot inputs and outputs); weights start
    uniform in [-0.5, 0.5]; the learning rate 0.1 is ours (see the milestone page).

    Example:

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.reber.load_data()
    model = keras_history.models.elman_rnn(seed=0)
    model.fit(x, y, batch_size=256, epochs=40)
    keras_history.datasets.reber.predicted(model.predict(x_test), x_test).mean()
    ```

    Args:
        hidden_units: hidden (and context) units.
        learning_rate: the step size of online gradient descent.
        input_features: features per step.
        units: output units.
        return_sequences: answer at every step (True) or only at the end.
        output_bias: give the output units a bias.
        gradient: `"truncated"`, Elman's (the context is an input: errors go
            back one step), or `"bptt"`, full backpropagation through time.
        seed: seed of the initial weights.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("elman_rnn")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        An `ElmanNetwork` model, built for sequences of any length.
    """
    model = ElmanNetwork(hidden_units=hidden_units, units=units,
                         return_sequences=return_sequences, output_bias=output_bias,
                         gradient=gradient, seed=seed, name=name)
    model = built_and_compiled(model, input_features, learning_rate, compile)
    return with_weights(model, "elman_rnn", weights)
