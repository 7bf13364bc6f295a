"""Concrete resources that hold or fetch their contents rather than compute them:
`TextResource`, `BinaryResource`, `FileResource`, `HttpResource`, `DirectoryResource` (FastMCP
2.13's `fastmcp.resources.types`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from trimcp.exceptions import ResourceError
from trimcp.resources.resource import Resource

if TYPE_CHECKING:
    from trimcp.core.context import Context

__all__ = ["BinaryResource", "DirectoryResource", "FileResource", "HttpResource", "TextResource"]


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


class HttpResource(Resource):
    """The body of an HTTP GET of `url`, fetched on every `resources/read` (needs `httpx2`,
    trimcp's `http` extra).

    Args:
        url: The URL to fetch.
        mime_type: What the body is (default `application/json`, as FastMCP's).
    """

    def __init__(self, *, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("mime_type", "application/json")
        super().__init__(**kwargs)
        self.url = url

    async def read(self, context: Context | None = None) -> str:
        """The response's text.

        Raises:
            ResourceError: `httpx2` is not installed, the request failed, or the status is not
                a success.
        """
        try:
            import httpx2
        except ImportError as exc:
            raise ResourceError(
                "HttpResource needs httpx2: install trimcp with the `http` extra "
                "(`pip install 'trimcp[http]'`)"
            ) from exc
        try:
            async with httpx2.AsyncClient() as client:
                response = await client.get(self.url)
                response.raise_for_status()
                return str(response.text)
        except httpx2.HTTPError as exc:
            raise ResourceError(f"Error fetching {self.url!r}: {exc}") from exc


class DirectoryResource(Resource):
    """A directory listing: JSON `{"files": [...]}`, the paths relative to the directory
    (FastMCP's shape), sorted.

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

    async def list_files(self) -> list[Path]:
        """The files of the directory (absolute paths), sorted.

        Raises:
            FileNotFoundError: The directory does not exist.
            NotADirectoryError: The path is not a directory.
        """
        return await anyio.to_thread.run_sync(self._list_files)

    def _list_files(self) -> list[Path]:
        if not self.path.exists():
            raise FileNotFoundError(f"Directory not found: {self.path}")
        if not self.path.is_dir():
            raise NotADirectoryError(f"Not a directory: {self.path}")
        pattern = self.pattern or "*"
        found = self.path.rglob(pattern) if self.recursive else self.path.glob(pattern)
        return sorted(p for p in found if p.is_file())

    async def read(self, context: Context | None = None) -> str:
        """The listing as JSON text.

        Raises:
            ResourceError: The directory cannot be listed.
        """
        try:
            files = await self.list_files()
        except OSError as exc:
            raise ResourceError(f"Error reading directory {self.path}: {exc}") from exc
        names = [str(p.relative_to(self.path)) for p in files]
        return json.dumps({"files": names}, indent=2)
