"""`UriTemplate`: the RFC 6570 subset resource templates use, compiled once and matched.

Supported:

- `{name}`: one path segment (no `/`);
- `{name*}` and `{+name}`: any text, `/` included;
- `{?a,b}` (or `{&a,b}`): optional query parameters.

`UriTemplate.match(uri)` gives the percent-decoded values as strings, or `None`. What a handler
may receive (RFC 6570 defines expansion only, its section 1.4 leaves matching to the
implementation; this is the policy, applied to the values after their one decoding, so `%2F`,
`%2e%2e` and `%00` count as what they decode to):

- `{name}` is one path segment: never `/`, `\\`, NUL, `.` or `..`;
- `{name*}`, `{+name}` and query values may hold `/`, but never NUL, a `..` segment (`/` or
  `\\` separated) or a leading `/` or `\\` (an absolute path discards the base it is joined to);
- a value is decoded once: `%252F` arrives as the text `%2F`.

A URI whose values break this does not match the template: the client gets the same error as
for any unknown resource (the official SDK answers "Unknown resource" too).
`UriTemplate.match_any` and FastMCP's `match_uri_template` are the plain match, without it.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qs, unquote

__all__ = ["UriTemplate", "build_regex", "extract_query_params", "match_uri_template"]

_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _names(body: str, template: str) -> list[str]:
    names = [n.strip() for n in body.split(",")]
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"Invalid parameter name {name!r} in URI template {template!r}")
    return names


def _is_segment(value: str) -> bool:
    """Whether a decoded `{name}` value is one harmless path segment."""
    return (
        value not in (".", "..") and "/" not in value and "\\" not in value and "\x00" not in value
    )


def _is_relative_path(value: str) -> bool:
    """Whether a decoded `{name*}`/`{+name}`/query value stays below wherever it is joined."""
    if "\x00" in value or value[:1] in ("/", "\\"):
        return False
    if ".." not in value:
        return True
    return ".." not in value.replace("\\", "/").split("/")


class UriTemplate:
    """A parsed URI template: its path and query parameters and its compiled matcher."""

    __slots__ = ("_regex", "_whole_uri", "_wildcards", "path_params", "query_params", "template")

    def __init__(self, template: str) -> None:
        self.template = template
        path_params: list[str] = []
        query_params: list[str] = []
        wildcards: set[str] = set()
        pattern: list[str] = []
        literal_path: list[str] = []
        pos = 0
        for match in _EXPRESSION.finditer(template):
            literal_path.append(template[pos : match.start()])
            pattern.append(re.escape(template[pos : match.start()]))
            pos = match.end()
            body = match.group(1)
            if body[:1] in ("?", "&"):
                query_params.extend(_names(body[1:], template))
                continue
            if "," in body:
                raise ValueError(
                    f"URI template {template!r}: one variable per path expression, got {{{body}}}"
                )
            wildcard = body.startswith("+") or body.endswith("*")
            (name,) = _names(body.removeprefix("+").removesuffix("*"), template)
            path_params.append(name)
            if wildcard:
                wildcards.add(name)
            pattern.append(f"(?P<{name}>.+)" if wildcard else f"(?P<{name}>[^/]+)")
        literal_path.append(template[pos:])
        pattern.append(re.escape(template[pos:]))
        if any("{" in part or "}" in part for part in literal_path):
            raise ValueError(f"Unbalanced braces in URI template {template!r}")
        every = path_params + query_params
        duplicates = {n for n in every if every.count(n) > 1}
        if duplicates:
            raise ValueError(f"URI template {template!r} repeats parameters {sorted(duplicates)}")
        self.path_params = tuple(path_params)
        self.query_params = tuple(query_params)
        self._wildcards = frozenset(wildcards)
        self._regex = re.compile("^" + "".join(pattern) + "$", re.DOTALL)
        # A literal `?` in the template means the query is part of what the regex matches.
        self._whole_uri = any("?" in part for part in literal_path)

    def __repr__(self) -> str:
        return f"UriTemplate({self.template!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UriTemplate) and other.template == self.template

    def __hash__(self) -> int:
        return hash(self.template)

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled matcher of the path (of the whole URI when the template has a literal
        `?`); its groups are the path parameters, not yet percent-decoded."""
        return self._regex

    def match(self, uri: str) -> dict[str, str] | None:
        """The parameters of `uri` (percent-decoded once), or `None` if it does not match,
        which includes values a handler must never receive (see the module docstring)."""
        return self._match(uri, guarded=True)

    def match_any(self, uri: str) -> dict[str, str] | None:
        """The parameters of `uri` (percent-decoded once), or `None` if it does not match;
        unlike `match`, any decoded value is accepted (FastMCP's `match_uri_template`)."""
        return self._match(uri, guarded=False)

    def _match(self, uri: str, *, guarded: bool) -> dict[str, str] | None:
        path, _, query = (uri, "", "") if self._whole_uri else uri.partition("?")
        found = self._regex.match(path)
        if found is None:
            return None
        params: dict[str, str] = {}
        for name, raw in found.groupdict().items():
            value = unquote(raw)
            if guarded and not (
                _is_relative_path(value) if name in self._wildcards else _is_segment(value)
            ):
                return None
            params[name] = value
        if query and self.query_params:
            parsed = parse_qs(query, keep_blank_values=True)
            for name in self.query_params:
                if name in parsed:
                    value = parsed[name][0]
                    if guarded and not _is_relative_path(value):
                        return None
                    params[name] = value
        return params


def build_regex(template: str) -> re.Pattern[str]:
    """The compiled matcher of `template`'s path (FastMCP's name): `{name}` is one segment,
    `{name*}` and `{+name}` any text; `{?a,b}` query expressions match nothing in the path.

    Raises:
        ValueError: The template is malformed.
    """
    return _compiled(template).regex


def extract_query_params(uri_template: str) -> set[str]:
    """The names of the query parameters (`{?a,b}`, `{&c}`) of `uri_template`."""
    return set(_compiled(uri_template).query_params)


def match_uri_template(uri: str, uri_template: str) -> dict[str, str] | None:
    """The parameters `uri` gives `uri_template` (path and query, percent-decoded once), or
    `None` if it does not match (FastMCP's function).

    This is the plain RFC 6570 match: a `{name}` value may decode to text holding `/`. A
    server's templates answer reads through `ResourceTemplate.matches`, which refuses values
    a handler must never receive (see the module docstring).

    Raises:
        ValueError: The template is malformed.
    """
    return _compiled(uri_template).match_any(uri)


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> UriTemplate:
    # The module functions take the template as text, as FastMCP's do: compile each once.
    return UriTemplate(template)
