"""The pieces every activity interface uses: a strict model base and `implements`, which
registers an implementation's method under the name its interface declares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from temporalio import activity

F = TypeVar("F", bound=Callable[..., Any])


class ActivityModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def implements(declared: Callable[..., Any]) -> Callable[[F], F]:
    """`@implements(StoreActivities.create_draft)` on the implementing method: the worker
    registers it under the interface's activity name, so the name is written once."""
    definition = activity._Definition.must_from_callable(declared)
    name = definition.name
    if name is None:
        raise TypeError(f"{declared!r} is not a named activity")

    def register(method: F) -> F:
        if method.__name__ != getattr(declared, "__name__", None):
            raise TypeError(f"{method.__name__} implements {declared.__name__}: use one name")
        return activity.defn(name=name)(method)

    return register


def activities_of(implementation: object) -> list[Callable[..., Any]]:
    """The bound activity methods of an implementation, for the worker to register."""
    found = []
    for name in sorted(dir(type(implementation))):
        member = getattr(type(implementation), name)
        if callable(member) and activity._Definition.from_callable(member) is not None:
            found.append(getattr(implementation, name))
    return found
