"""The timeline: every milestone's factory registers here with its year and inventor.

`keras-history list` prints this table, `keras-history tour` walks it, and
the factories get one shared guard against misspelt options.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Milestone:
    number: int
    year: int
    inventor: str
    title: str
    factory: Callable

    @property
    def name(self) -> str:
        return self.factory.__name__


TIMELINE: list[Milestone] = []


def milestone(number: int, year: int, inventor: str, title: str) -> Callable:
    """Register a factory on the timeline and make unknown options a clear TypeError."""

    def register(factory: Callable) -> Callable:
        options = inspect.signature(factory).parameters

        @functools.wraps(factory)
        def checked_factory(*args, **kwargs):
            unknown = sorted(set(kwargs) - set(options))
            if unknown:
                raise TypeError(
                    f"{factory.__name__}() got unknown option(s) {', '.join(unknown)}; "
                    f"expected any of: {', '.join(options)}."
                )
            return factory(*args, **kwargs)

        TIMELINE.append(Milestone(number, year, inventor, title, checked_factory))
        TIMELINE.sort(key=lambda m: m.number)
        return checked_factory

    return register


def get(name: str) -> Milestone:
    """The milestone whose factory is called `name`, or a ValueError listing them."""
    for item in TIMELINE:
        if item.name == name:
            return item
    raise ValueError(
        f"Unknown milestone {name!r}; expected one of: {', '.join(m.name for m in TIMELINE)}."
    )
