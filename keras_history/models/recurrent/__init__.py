"""Recurrent nets: memory through time (1990–1997)."""

from keras_history.models.recurrent.elman import ElmanNetwork, elman_rnn
from keras_history.models.recurrent.lstm import LongShortTermMemory, lstm_1997

__all__ = ["ElmanNetwork", "LongShortTermMemory", "elman_rnn", "lstm_1997"]
