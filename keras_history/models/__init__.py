"""The milestones, as factory functions in the style of `keras.applications`.

Each factory returns a registered, serializable `keras.Model` subclass,
compiled with the milestone's historical training setup unless
`compile=False`. The modules are grouped by era: `classic/` (1805–1986),
`convolutional/`, `recurrent/`, `generative/` and `deep/`. Every milestone's module is
named in the timeline (`keras_history.timeline.TIMELINE`), and its public
names (`__all__`: the factory and its model class) are importable from
`keras_history.models` itself, so a new milestone needs no line here.
"""

import importlib

from keras_history.models.base import LearningRuleModel
from keras_history.timeline import TIMELINE

__all__ = ["LearningRuleModel"]

for _module_name in dict.fromkeys(m.module for m in TIMELINE):
    _module = importlib.import_module(f"keras_history.models.{_module_name}")
    globals().update({name: getattr(_module, name) for name in _module.__all__})
    __all__ += _module.__all__

del _module, _module_name
