"""trimcp's loggers, FastMCP's `fastmcp.utilities.logging`: `get_logger` (a logger under
`trimcp`), `configure_logging` (handlers on stderr for the `trimcp` logger, or one given) and
`temporary_log_level`.

trimcp logs under the `trimcp` name, not `fastmcp`: `logging.getLogger("trimcp")` is the one
to configure. Importing trimcp configures nothing; `configure_logging` does, when called.
Handlers are `rich`'s `RichHandler` when `rich` is installed (as FastMCP's), else plain
`logging.StreamHandler`s on stderr; keyword arguments meant for `RichHandler` need `rich`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterator
from typing import Any, Literal

__all__ = ["LogLevel", "configure_logging", "get_logger", "temporary_log_level"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

ROOT = "trimcp"
_PREFIXES = ("trimcp.", "fastmcp.")


def get_logger(name: str) -> logging.Logger:
    """The logger `trimcp.<name>` (a `trimcp.` name as it is; `fastmcp.x` is `trimcp.x`)."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return logging.getLogger(f"{ROOT}.{name}")


def _without_traceback(record: logging.LogRecord) -> bool:
    return record.exc_info is None


def _with_traceback(record: logging.LogRecord) -> bool:
    return record.exc_info is not None


def _rich_handlers(
    *, rich_tracebacks: bool, rich_kwargs: dict[str, Any]
) -> tuple[logging.Handler, logging.Handler]:
    # imported by name: rich is optional and has no stubs here
    Console = importlib.import_module("rich.console").Console
    RichHandler = importlib.import_module("rich.logging").RichHandler
    import trimcp

    suppress: list[Any] = [trimcp]
    for name in ("pydantic", "mcp"):
        module = sys.modules.get(name)
        if module is not None:
            suppress.append(module)
    plain: logging.Handler = RichHandler(console=Console(stderr=True), **rich_kwargs)
    # Tracebacks in a compact form (no path, no level, three frames) unless overridden.
    traceback_options: dict[str, Any] = {
        "console": Console(stderr=True),
        "show_path": False,
        "show_level": False,
        "rich_tracebacks": rich_tracebacks,
        "tracebacks_max_frames": 3,
        "tracebacks_suppress": suppress,
        **rich_kwargs,
    }
    return plain, RichHandler(**traceback_options)


def _plain_handlers() -> tuple[logging.Handler, logging.Handler]:
    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("%(levelname)-8s %(name)s: %(message)s"))
    tracebacks = logging.StreamHandler(sys.stderr)
    tracebacks.setFormatter(logging.Formatter("%(levelname)-8s %(name)s: %(message)s"))
    return plain, tracebacks


def configure_logging(
    level: LogLevel | int = "INFO",
    logger: logging.Logger | None = None,
    enable_rich_tracebacks: bool | None = None,
    **rich_kwargs: Any,
) -> None:
    """Give `logger` (the `trimcp` logger by default) two handlers on stderr, one for
    records with a traceback and one for the rest, replacing its handlers, and stop it
    propagating to the root logger.

    Args:
        level: the logger's level.
        logger: the logger to configure.
        enable_rich_tracebacks: `rich`'s tracebacks (the `enable_rich_tracebacks` setting
            when `None`).
        **rich_kwargs: options for `rich.logging.RichHandler`; `ImportError` without `rich`.

    Does nothing when the `log_enabled` setting is off.
    """
    from trimcp.settings import settings

    if not getattr(settings, "log_enabled", True):
        return
    if enable_rich_tracebacks is None:
        enable_rich_tracebacks = bool(getattr(settings, "enable_rich_tracebacks", True))
    has_rich = importlib.util.find_spec("rich") is not None
    if rich_kwargs and not has_rich:
        raise ImportError(
            f"configure_logging options {sorted(rich_kwargs)} are rich's RichHandler options, "
            "and rich is not installed (pip install rich)"
        )
    if has_rich:
        plain, tracebacks = _rich_handlers(
            rich_tracebacks=enable_rich_tracebacks, rich_kwargs=rich_kwargs
        )
    else:
        plain, tracebacks = _plain_handlers()
    plain.addFilter(_without_traceback)
    tracebacks.addFilter(_with_traceback)
    if has_rich:
        formatter = logging.Formatter("%(message)s")  # rich prints level and time itself
        plain.setFormatter(formatter)
        tracebacks.setFormatter(formatter)

    logger = logger if logger is not None else logging.getLogger(ROOT)
    logger.propagate = False
    logger.setLevel(level)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(plain)
    logger.addHandler(tracebacks)


@contextlib.contextmanager
def temporary_log_level(
    level: str | None,
    logger: logging.Logger | None = None,
    enable_rich_tracebacks: bool | None = None,
    **rich_kwargs: Any,
) -> Iterator[None]:
    """`configure_logging(level, ...)` for the duration of the block, then the logger's
    level, handlers and propagation as they were. `level=None` changes nothing."""
    if not level:
        yield
        return
    target = logger if logger is not None else logging.getLogger(ROOT)
    saved = (target.level, list(target.handlers), target.propagate)
    configure_logging(
        level.upper(),  # type: ignore[arg-type]
        target,
        enable_rich_tracebacks,
        **rich_kwargs,
    )
    try:
        yield
    finally:
        target.setLevel(saved[0])
        for handler in list(target.handlers):
            target.removeHandler(handler)
        for handler in saved[1]:
            target.addHandler(handler)
        target.propagate = saved[2]
