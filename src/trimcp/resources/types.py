"""Concrete resources that hold their contents rather than compute them: `TextResource`,
`BinaryResource`, `FileResource`, `DirectoryResource`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from trimcp.exceptions import ResourceError
from trimcp.resources.resource import Resource

if TYPE_CHECKING:
    from trimcp.core.context import Context

__all__ = ["BinaryResource", "DirectoryResource", "FileResource", "TextResource"]


class TextResource(Resource):
    """A resource whose contents are a fixed string."""

    def __init__(self, *, text: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text

    async def read(self, context: Context | None = None) -> str:
        return self.text


class BinaryResource(Resource):
    """A resource whose contents are fixed bytes (sent base64-encoded)."""

    def __init__(self, *, data: bytes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data

    async def read(self, context: Context | None = None) -> bytes:
        return self.data


def _absolute(path: Path | str) -> Path:
    path = Path(path)
    if not path.is_absolute():
        raise ValueError(f"Path must be absolute: {str(path)!r}")
    return path


class FileResource(Resource):
    """A file on disk, read on every `resources/read`.

    Args:
        path: Absolute path of the file.
        is_binary: Read bytes rather than text; implied by a `mime_type` outside `text/*`.
    """

    def __init__(self, *, path: Path | str, is_binary: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = _absolute(path)
        self.is_binary = is_binary or not self.mime_type.startswith("text/")

    async def read(self, context: Context | None = None) -> str | bytes:
        path = anyio.Path(self.path)
        try:
            return await (path.read_bytes() if self.is_binary else path.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise ResourceError(f"Error reading file {str(self.path)!r}: {exc}") from exc


class DirectoryResource(Resource):
    """A directory listing: a JSON array of file paths relative to the directory.

    Args:
        path: Absolute path of the directory.
        recursive: List files in subdirectories too.
        pattern: A glob the file names must match (default: all files).
    """

    def __init__(
        self,
        *,
        path: Path | str,
        recursive: bool = False,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("mime_type", "application/json")
        super().__init__(**kwargs)
        self.path = _absolute(path)
        self.recursive = recursive
        self.pattern = pattern

    def list_files(self) -> list[Path]:
        """The files of the directory, sorted (blocking: `read()` runs it in a worker thread)."""
        if not self.path.is_dir():
            raise ResourceError(f"Directory not found: {str(self.path)!r}")
        pattern = self.pattern or "*"
        found = self.path.rglob(pattern) if self.recursive else self.path.glob(pattern)
        return sorted(p for p in found if p.is_file())

    async def read(self, context: Context | None = None) -> str:
        try:
            files = await anyio.to_thread.run_sync(self.list_files)
        except OSError as exc:
            raise ResourceError(f"Error listing directory {str(self.path)!r}: {exc}") from exc
        return json.dumps([str(p.relative_to(self.path)) for p in files], indent=2)
