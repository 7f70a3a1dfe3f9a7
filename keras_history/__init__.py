"""keras-history: the history of deep learning as runnable Keras 3 models.

Each milestone is a real `keras.Model` whose `train_step` is the learning
rule its inventor used:

    import keras_history
    model = keras_history.models.perceptron()
    model.fit(*keras_history.datasets.logic_gate("or"), epochs=20)
"""

from keras_history import datasets, layers, metrics, models
from keras_history.saving import export, load_model, load_weights
from keras_history.timeline import TIMELINE

__version__ = "0.1.0"

__all__ = [
    "TIMELINE", "datasets", "export", "layers", "load_model", "load_weights", "metrics", "models",
]
