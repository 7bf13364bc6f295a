"""Resource templates never hand a handler a path that climbs out of where it is joined.

Issue 14, finding 4: `UriTemplate.match` decoded `%2F` after checking that `{name}` was one
segment, so `file://..%2F..%2Fetc%2Fpasswd` called the handler with `../../etc/passwd`. A simple
`{name}` now never receives `/`, `\\`, NUL, `.` or `..`; a `{path*}`/`{+path}` wildcard (where
slashes belong) and query values never receive NUL, a `..` segment or an absolute path. Such a
URI does not match the template, so the client gets the answer of any unknown resource.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.wire import serving
from trimcp import Client, FastMCP
from trimcp.exceptions import McpError
from trimcp.resources.template import UriTemplate

pytestmark = pytest.mark.anyio

# (the attack, the URI after `file://`): each must not match `file://{name}`
SEGMENT_ATTACKS = [
    ("encoded slashes climb out", "..%2F..%2Fetc%2Fpasswd"),
    ("encoded slash makes an absolute path", "%2Fetc%2Fpasswd"),
    ("encoded NUL", "a%00b"),
    ("bare dot-dot", ".."),
    ("bare dot", "."),
    ("encoded dot-dot", "%2e%2e"),
    ("encoded dot-dot, upper case", "%2E%2E"),
    ("mixed-case encoded slashes", "..%2f..%2Fetc%2fpasswd"),
    ("encoded backslashes climb out", "..%5C..%5Cwindows"),
]

# each must not match `tree://{path*}` (nor `tree://{+path}`)
WILDCARD_ATTACKS = [
    ("literal dot-dot segments", "../../etc/passwd"),
    ("dot-dot after a segment", "a/../../etc/passwd"),
    ("encoded dot-dot segment", "a/%2e%2e/%2E%2E/etc"),
    ("encoded slashes around dot-dot", "..%2F..%2Fetc%2Fpasswd"),
    ("encoded absolute path", "%2Fetc%2Fpasswd"),
    ("literal absolute path", "/etc/passwd"),
    ("encoded NUL", "a/b%00.txt"),
    ("backslash dot-dot", "a%5C..%5C..%5Cwindows"),
]

# (URI after `file://`, what `{name}` receives)
SEGMENT_VALUES = [
    ("John%20Doe", "John Doe"),
    ("a b", "a b"),
    ("caf%C3%A9", "café"),
    ("naïve", "naïve"),
    ("%252F", "%2F"),  # decoded once: the literal text, never a slash
    ("a%252Fb", "a%2Fb"),
    ("%252e%252e", "%2e%2e"),
    ("v1..2", "v1..2"),
    (".hidden", ".hidden"),
    ("...", "..."),
]

# (URI after `tree://`, what `{path*}` receives)
WILDCARD_VALUES = [
    ("a/b/c.txt", "a/b/c.txt"),
    ("a%2Fb", "a/b"),
    ("docs/my%20file.md", "docs/my file.md"),
    ("docs/%C3%BCber/x", "docs/über/x"),
    ("a/./b", "a/./b"),
    ("a/b..c/..d", "a/b..c/..d"),
    ("a/%252e%252e/b", "a/%2e%2e/b"),
]


# --- matching, unit ------------------------------------------------------------------------


@pytest.mark.parametrize(("attack", "rest"), SEGMENT_ATTACKS, ids=[a for a, _ in SEGMENT_ATTACKS])
def test_simple_variable_never_matches_a_path_escape(attack: str, rest: str) -> None:
    assert UriTemplate("file://{name}").match("file://" + rest) is None
    assert UriTemplate("file://docs/{name}.txt").match(f"file://docs/{rest}.txt") is None


@pytest.mark.parametrize(("rest", "value"), SEGMENT_VALUES)
def test_simple_variable_receives_ordinary_values_decoded_once(rest: str, value: str) -> None:
    assert UriTemplate("file://{name}").match("file://" + rest) == {"name": value}


@pytest.mark.parametrize(("attack", "rest"), WILDCARD_ATTACKS, ids=[a for a, _ in WILDCARD_ATTACKS])
@pytest.mark.parametrize("template", ["tree://{path*}", "tree://{+path}"])
def test_wildcard_never_matches_a_path_escape(template: str, attack: str, rest: str) -> None:
    assert UriTemplate(template).match("tree://" + rest) is None


@pytest.mark.parametrize(("rest", "value"), WILDCARD_VALUES)
@pytest.mark.parametrize("template", ["tree://{path*}", "tree://{+path}"])
def test_wildcard_receives_slashes_and_ordinary_values_decoded_once(
    template: str, rest: str, value: str
) -> None:
    assert UriTemplate(template).match("tree://" + rest) == {"path": value}


def test_wildcard_after_a_segment_keeps_both_checks() -> None:
    template = UriTemplate("repo://{owner}/{path*}")
    assert template.match("repo://me/src/a.py") == {"owner": "me", "path": "src/a.py"}
    assert template.match("repo://%2e%2e/src/a.py") is None
    assert template.match("repo://me/src/../../a.py") is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?where=a/b", {"q": "x", "where": "a/b"}),
        ("?where=a%20b", {"q": "x", "where": "a b"}),
        ("?where=../../etc/passwd", None),
        ("?where=..%2F..%2Fetc", None),
        ("?where=%2Fetc%2Fpasswd", None),
        ("?where=a%00b", None),
    ],
)
def test_query_values_never_carry_a_path_escape(
    query: str, expected: dict[str, str] | None
) -> None:
    assert UriTemplate("search://{q}{?where}").match("search://x" + query) == expected


# --- through a real client over HTTP ----------------------------------------------------------


def traversal_server(received: list[tuple[str, str]]) -> FastMCP:
    mcp = FastMCP("files")

    @mcp.resource("file://{name}")
    def by_name(name: str) -> str:
        received.append(("name", name))
        return f"name={name}"

    @mcp.resource("tree://{path*}")
    def by_path(path: str) -> str:
        received.append(("path", path))
        return f"path={path}"

    return mcp


async def unknown_resource_error(client: Client, uri: str) -> Any:
    with pytest.raises(McpError) as caught:
        await client.read_resource(uri)
    return caught.value.error


@pytest.mark.parametrize("protocol", ["modern", "legacy"])
async def test_client_read_of_each_traversal_gets_the_unknown_resource_error(
    anyio_backend: str, protocol: str
) -> None:
    received: list[tuple[str, str]] = []
    mcp = traversal_server(received)
    async with serving(mcp, wait=30) as (address, _http):
        async with Client(address.url, protocol=protocol) as client:  # type: ignore[arg-type]
            with anyio.fail_after(20):
                unknown = await unknown_resource_error(client, "nothing://here")
                for _attack, rest in SEGMENT_ATTACKS:
                    uri = "file://" + rest
                    error = await unknown_resource_error(client, uri)
                    assert error.code == unknown.code
                    assert error.message == unknown.message.replace("nothing://here", uri)
                for _attack, rest in WILDCARD_ATTACKS:
                    uri = "tree://" + rest
                    error = await unknown_resource_error(client, uri)
                    assert error.code == unknown.code
                    assert error.message == unknown.message.replace("nothing://here", uri)
    assert received == []
    assert unknown.code == (-32602 if protocol == "modern" else -32002)


async def test_client_read_of_ordinary_values_reaches_the_handler_decoded_once(
    anyio_backend: str,
) -> None:
    received: list[tuple[str, str]] = []
    mcp = traversal_server(received)
    async with serving(mcp, wait=30) as (address, _http):
        async with Client(address.url) as client:
            with anyio.fail_after(20):
                for rest, value in SEGMENT_VALUES:
                    [contents] = await client.read_resource("file://" + rest)
                    assert contents.text == f"name={value}"
                for rest, value in WILDCARD_VALUES:
                    [contents] = await client.read_resource("tree://" + rest)
                    assert contents.text == f"path={value}"
    assert received == [("name", v) for _, v in SEGMENT_VALUES] + [
        ("path", v) for _, v in WILDCARD_VALUES
    ]
