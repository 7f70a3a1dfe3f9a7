"""The embedded Reber grammar: the first benchmark of "Long Short-Term Memory" (1997).

Reber's grammar is a small finite automaton over the seven symbols
B, T, S, X, P, V, E; every branch is taken with probability ½. The embedded
version wraps a Reber string between B, T or P, ... , the same T or P, E:

    B T <Reber string> T E      or      B P <Reber string> P E

Predicting the next symbol inside the inner string needs only the last few
symbols, but the second-to-last symbol repeats the second one, 6 to 20+
steps back. A net that cannot bridge that gap cannot solve the task.

Following Hochreiter and Schmidhuber (Section 5.1, after Cleeremans et al.
1989 and Fahlman 1991): one-hot inputs and outputs, 256 training strings,
256 test strings none of which occur in the training set, and a trial counts
as solved when every symbol of every string of both sets is predicted, i.e.
at every step the output units of the possible next symbols (one or two)
are the most active ones.
"""

from __future__ import annotations

import numpy as np

SYMBOLS = "BTSXPVE"

# Reber's automaton: state -> ((symbol, next state), (symbol, next state)); 5 is the end.
_TRANSITIONS = {
    0: (("T", 1), ("P", 2)),
    1: (("S", 1), ("X", 3)),
    2: (("T", 2), ("V", 4)),
    3: (("X", 2), ("S", 5)),
    4: (("P", 3), ("V", 5)),
}


def reber_string(rng: np.random.Generator) -> str:
    """One string of Reber's grammar, B...E (at least 5 symbols)."""
    symbols, state = ["B"], 0
    while state != 5:
        symbol, state = _TRANSITIONS[state][rng.integers(2)]
        symbols.append(symbol)
    return "".join(symbols) + "E"


def embedded_reber_string(rng: np.random.Generator) -> str:
    """One string of the embedded grammar: B, T or P, a Reber string, the same T or P, E."""
    outer = "TP"[rng.integers(2)]
    return f"B{outer}{reber_string(rng)}{outer}E"


def possible_next(string: str) -> list[str]:
    """The symbols the embedded grammar allows after each prefix of `string` but the last.

    Raises a ValueError naming the first symbol the grammar does not allow.
    """
    allowed, options = [], "B"
    inner = None  # the inner automaton's state while inside the Reber string
    for position, symbol in enumerate(string):
        if symbol not in options:
            raise ValueError(f"{string!r} is not an embedded Reber string: {symbol!r} at "
                             f"position {position}, where the grammar allows only "
                             f"{' or '.join(options)}.")
        if position == 0:
            options = "TP"
        elif position == 1:
            options = "B"
        elif position == 2:
            inner, options = 0, "".join(s for s, _ in _TRANSITIONS[0])
        elif inner is not None and inner != 5:
            inner = dict(_TRANSITIONS[inner])[symbol]
            options = "E" if inner == 5 else "".join(s for s, _ in _TRANSITIONS[inner])
        elif inner == 5:
            inner, options = None, string[1]  # the long-term dependency
        elif symbol in "TP":
            options = "E"
        else:  # the final E
            options = ""
        if position < len(string) - 1:
            allowed.append(options)
    if options:
        raise ValueError(f"{string!r} is not an embedded Reber string: it ends early, where "
                         f"the grammar expects {' or '.join(options)}.")
    return allowed


def encode(strings: list[str], steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-hot sequences for next-symbol prediction, padded with zero steps at the end.

    Returns `x` of shape (strings, steps, 7), each string but its last symbol,
    and `y` of the same shape, each string but its first: the symbol to predict.
    `steps` defaults to the longest string's length minus one.
    """
    strings = list(strings)
    if not strings or not all(isinstance(s, str) and len(s) >= 2 for s in strings):
        raise ValueError("`strings` must be a non-empty list of strings of at least two "
                         f"symbols from {SYMBOLS!r}.")
    longest = max(len(s) for s in strings) - 1
    steps = longest if steps is None else steps
    if steps < longest:
        raise ValueError(f"`steps` must be at least {longest} (the longest string minus one), "
                         f"got {steps}.")
    codes = np.zeros((len(strings), steps + 1, len(SYMBOLS)), "float32")
    for row, string in enumerate(strings):
        for position, symbol in enumerate(string):
            if symbol not in SYMBOLS:
                raise ValueError(f"String {row} ({string!r}) holds {symbol!r} at position "
                                 f"{position}; the Reber symbols are {SYMBOLS!r}.")
            codes[row, position, SYMBOLS.index(symbol)] = 1.0
    x = codes[:, :-1].copy()
    y = codes[:, 1:].copy()
    for row, string in enumerate(strings):  # no target after the last symbol
        x[row, len(string) - 1:] = 0.0
    return x, y


def decode(x: np.ndarray) -> list[str]:
    """The strings of one-hot `x` (padding steps dropped)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != len(SYMBOLS):
        raise ValueError(f"`x` must have shape (strings, steps, {len(SYMBOLS)}), got shape "
                         f"{x.shape}.")
    strings = []
    for row in x:
        steps = row[row.any(axis=-1)]
        if not np.all(np.isin(steps, (0, 1))) or not np.all(steps.sum(axis=-1) == 1):
            raise ValueError("`x` is not one-hot: every step must hold one 1 and zeros.")
        strings.append("".join(SYMBOLS[i] for i in steps.argmax(axis=-1)))
    return strings


def allowed_next(x: np.ndarray) -> np.ndarray:
    """A (strings, steps, 7) 0/1 array: the symbols allowed after each input step of `x`."""
    x = np.asarray(x)
    allowed = np.zeros(x.shape, bool)
    for row, string in enumerate(decode(x)):
        # The inputs stop one symbol early: complete the string with its forced E.
        for step, options in enumerate(possible_next(string + "E")):
            allowed[row, step, [SYMBOLS.index(s) for s in options]] = True
    return allowed


def predicted(y_pred: np.ndarray, x: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Per string: True when every step's most active outputs are exactly its allowed ones.

    This is the paper's success criterion: at each step the output units of the
    k possible next symbols (k = 1 or 2) are more active than all the others.
    `allowed` is `allowed_next(x)`, when it is already at hand.
    """
    y_pred = np.asarray(y_pred)
    allowed = allowed_next(x) if allowed is None else allowed
    if y_pred.shape != allowed.shape:
        raise ValueError(f"`y_pred` must have the shape of `x`, {allowed.shape}, got "
                         f"{y_pred.shape}.")
    lowest_allowed = np.where(allowed, y_pred, np.inf).min(axis=-1)
    highest_other = np.where(allowed, -np.inf, y_pred).max(axis=-1)
    real = allowed.any(axis=-1)  # padding steps have no allowed symbol
    return np.all(~real | (lowest_allowed > highest_other), axis=-1)


def load_data(train: int = 256, test: int = 256, seed: int = 0):
    """Seeded training and test sets, `((x, y), (x_test, y_test))`, as in the paper.

    `x` and `y` are (strings, steps, 7) one-hot arrays from `encode`, padded to the
    longest string of both sets. No test string occurs in the training set.

    Args:
        train: number of training strings (the paper's 256).
        test: number of test strings (the paper's 256).
        seed: seed of the generator; the same seed gives the same strings.
    """
    for name, value in (("train", train), ("test", test)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    rng = np.random.default_rng(seed)
    train_strings = [embedded_reber_string(rng) for _ in range(train)]
    seen, test_strings = set(train_strings), []
    while len(test_strings) < test:
        string = embedded_reber_string(rng)
        if string not in seen:
            test_strings.append(string)
    steps = max(len(s) for s in train_strings + test_strings) - 1
    return encode(train_strings, steps), encode(test_strings, steps)


__all__ = ["SYMBOLS", "allowed_next", "decode", "embedded_reber_string", "encode",
           "load_data", "possible_next", "predicted", "reber_string"]
