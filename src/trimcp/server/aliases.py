"""Second spellings of a `FastMCP`'s attributes: FastMCP 2.13's private names (`_tool_manager`,
`_tools`, ...) that its users and tests read and assign, and the read-only views of owned
objects the internal API names (`has_custom_lifespan`, ...). An `Alias` reads through a dotted
path of public attributes; a writable one assigns its last name.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

__all__ = ["Alias"]

T = TypeVar("T")


class Alias(Generic[T]):
    """A class attribute that stands for `instance.<path>` (`"tool_manager"`,
    `"lifespan.result"`); assignable when `writable`."""

    __slots__ = ("names", "writable")

    def __init__(self, path: str, *, writable: bool = False) -> None:
        self.names = tuple(path.split("."))
        self.writable = writable

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Alias[T]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any]) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any]) -> Alias[T] | T:
        if instance is None:
            return self
        value: Any = instance
        for name in self.names:
            value = getattr(value, name)
        return value  # type: ignore[no-any-return]

    def __set__(self, instance: object, value: T) -> None:
        if not self.writable:
            raise AttributeError(f"{'.'.join(self.names)} is read-only here")
        target: Any = instance
        for name in self.names[:-1]:
            target = getattr(target, name)
        setattr(target, self.names[-1], value)
