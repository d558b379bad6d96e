"""The one way a function gets its collaborators.

Each domain's `wiring.py` declares a `Dependencies` subclass, one `cached_property` per collaborator
(a repository, a client, a publisher), built from settings at its first use, so a function pays
only for what it uses and needs only its own environment. A `Provider` holds the process's instance:

    dependencies = Provider(TradesDependencies)
    dependencies().trades                      # in an event handler
    Depends(dependencies.dependency)           # in a FastAPI route

Tests give their own collaborators through the same provider, never by patching modules:

    with dependencies.override(TradesDependencies(trades=fake)):
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Generic, TypeVar

T = TypeVar("T")
_providers: list[Provider[object]] = []


class Dependencies:
    """Collaborators built at first use (each a `cached_property`); those passed to the constructor are
    used as given instead (a cached_property yields to the instance's own attribute)."""

    def __init__(self, **given: object) -> None:
        known = {name for name in dir(type(self)) if isinstance(getattr(type(self), name), cached_property)}
        unknown = set(given) - known
        if unknown:
            raise TypeError(f"{type(self).__name__} has no collaborator {', '.join(sorted(unknown))}")
        self.__dict__.update(given)


class Provider(Generic[T]):
    """The process's instance of a domain's dependencies: built at the first call, then reused."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._override: T | None = None
        self._lock = threading.Lock()
        _providers.append(self)  # type: ignore[arg-type]

    def __call__(self) -> T:
        if self._override is not None:
            return self._override
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    async def dependency(self) -> T:
        """The same instance, as a FastAPI dependency (async: no thread hand-off per request)."""
        return self()

    @contextmanager
    def override(self, value: T) -> Iterator[T]:
        """Use `value` instead until the block ends (tests); `reset` leaves it in place."""
        previous = self._override
        self._override = value
        try:
            yield value
        finally:
            self._override = previous

    def reset(self) -> None:
        """Forget the instance; the next call builds a new one from the current settings."""
        self._value = None


def reset_all() -> None:
    """Forget every provider's instance (tests change the environment between cases)."""
    for provider in _providers:
        provider.reset()
