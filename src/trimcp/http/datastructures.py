"""The data structures of trimcp's ASGI kit, shaped like Starlette's: `Headers` and
`MutableHeaders` (views over the raw ASGI header list), `QueryParams`, `URL`, `Address` and
`State`. Requests read them lazily from the scope; responses use `MutableHeaders`.
`trimcp.http.asgi` re-exports them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from trimcp.http.asgi import Scope

__all__ = ["URL", "Address", "Headers", "MutableHeaders", "QueryParams", "State"]


# -- headers ---------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only view of an ASGI header list (`[(name, value), ...]` bytes).

    Lookups scan the raw list: header lists are short, and no dict is built per request.
    """

    __slots__ = ("_list",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        if raw is not None:
            self._list = raw
        elif scope is not None:
            self._list = scope["headers"]
        elif headers is not None:
            self._list = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
        else:
            self._list = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def get(self, key: str, default: Any = None) -> Any:
        name = key.lower().encode("latin-1")
        for k, v in self._list:
            if k == name or k.lower() == name:
                return v.decode("latin-1")
        return default

    def getlist(self, key: str) -> list[str]:
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._list if k.lower() == name]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = key.lower().encode("latin-1")
        return any(k.lower() == name for k, _ in self._list)

    def keys(self) -> list[str]:  # type: ignore[override]
        return [k.decode("latin-1").lower() for k, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [v.decode("latin-1") for _, v in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self._list]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self.items()) == sorted(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


class MutableHeaders(Headers):
    """Headers of a response; writes go to the raw list the response sends."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name = key.lower().encode("latin-1")
        encoded = value.encode("latin-1")
        found = False
        kept: list[tuple[bytes, bytes]] = []
        for k, v in self._list:
            if k.lower() == name:
                if not found:
                    kept.append((name, encoded))
                    found = True
            else:
                kept.append((k, v))
        if not found:
            kept.append((name, encoded))
        self._list[:] = kept

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._list[:] = [(k, v) for k, v in self._list if k.lower() != name]

    def setdefault(self, key: str, value: str) -> str:
        existing = self.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        self.append(key, value)
        return value

    def append(self, key: str, value: str) -> None:
        self._list.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def update(self, other: Mapping[str, str]) -> None:
        for key, value in other.items():
            self[key] = value


# -- query string, URL, client ---------------------------------------------------------------


class QueryParams(Mapping[str, str]):
    """Parsed query string; `[key]`/`get` give the last value, `getlist` all of them."""

    __slots__ = ("_dict", "_list")

    def __init__(self, query: str | bytes | Iterable[tuple[str, str]] = "") -> None:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            self._list = parse_qsl(query, keep_blank_values=True)
        else:
            self._list = list(query)
        self._dict = dict(self._list)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._list)

    def __getitem__(self, key: str) -> str:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __str__(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"QueryParams({str(self)!r})"


class Address(NamedTuple):
    host: str
    port: int


class URL:
    """The request URL, rebuilt from the scope (`scheme`, `Host`, `root_path` + `path`, query)."""

    __slots__ = ("_url", "fragment", "hostname", "netloc", "path", "port", "query", "scheme")

    def __init__(self, url: str = "", *, scope: Scope | None = None) -> None:
        if scope is None:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            self.scheme, self.netloc, self.path = parts.scheme, parts.netloc, parts.path
            self.query, self.fragment = parts.query, parts.fragment
            self.hostname, self.port = parts.hostname, parts.port
            self._url = url
            return
        self.scheme = scope.get("scheme", "http")
        self.path = scope["path"]
        self.query = scope.get("query_string", b"").decode("latin-1")
        self.fragment = ""
        host = None
        for k, v in scope["headers"]:
            if k == b"host":
                host = v.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            if server is not None:
                host_part, port = server[0], server[1]
                default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(self.scheme)
                host = host_part if port in (None, default) else f"{host_part}:{port}"
            else:
                host = ""
        self.netloc = host
        self.hostname, self.port = _split_host(host)
        url = f"{self.scheme}://{host}{self.path}"
        self._url = f"{url}?{self.query}" if self.query else url

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"URL({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    __hash__ = None  # type: ignore[assignment]


def _split_host(host: str) -> tuple[str | None, int | None]:
    """`example.com:8080` -> ("example.com", 8080); `[::1]:80` -> ("::1", 80)."""
    if not host:
        return None, None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        name, rest = host[1:end], host[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.partition(":")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        port = None
    return name.lower(), port


class State:
    """An attribute bag (`request.state.user = ...`), stored in a dict it may share."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(f"'State' object has no attribute {key!r}") from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __repr__(self) -> str:
        return f"State({self._state!r})"
