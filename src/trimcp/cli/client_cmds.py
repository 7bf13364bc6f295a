"""`trimcp list TARGET` and `trimcp call TARGET TOOL key=value ...`: an MCP client from the shell.

TARGET is an `http(s)://` URL, or a server spec (`server.py[:obj]`, `package.module[:obj]`)
which is started as a child `trimcp run SPEC` over stdio: the server's own prints and logs
cannot mix with this command's output, and its stderr is shown only when it fails to start.

Values are JSON when they parse as JSON (`n=5` -> 5, `flag=true` -> True, `xs=[1,2]`), text
otherwise (`s=hello` -> "hello"); the tool's input schema then settles the obvious cases
(`s=5` for a string parameter stays "5", `flag=yes` for a boolean becomes True).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from trimcp.cli._common import CommandError, dump_json

__all__ = ["build_arguments", "configure_call", "configure_list", "run_call", "run_list"]

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="URL-OR-SPEC",
        help="an http(s):// URL, or a server spec started over stdio (file.py[:obj], module:obj)",
    )


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the raw MCP result as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up after this long (default 30)",
    )


def configure_list(parser: argparse.ArgumentParser) -> None:
    _target_arguments(parser)
    _common_options(parser)


def configure_call(parser: argparse.ArgumentParser) -> None:
    _target_arguments(parser)
    parser.add_argument("tool", help="the tool to call")
    parser.add_argument(
        "arguments", nargs="*", metavar="KEY=VALUE", help="tool arguments (values parsed as JSON)"
    )
    parser.add_argument(
        "--args",
        dest="json_arguments",
        metavar="JSON",
        help="arguments as one JSON object (merged under KEY=VALUE ones): --args '{\"a\": 1}'",
    )
    _common_options(parser)


# -- connecting ------------------------------------------------------------------------------


@asynccontextmanager
async def _connected(target: str, server_args: list[str], timeout: float) -> AsyncIterator[Any]:
    """A connected `Client`; connection failures become one-line `CommandError`s."""
    import tempfile

    from trimcp.client import Client, StdioTransport
    from trimcp.exceptions import ClientError, McpError

    log: Any = None
    if target.startswith(("http://", "https://")):
        where = target
        try:
            transport: Any = Client(target).transport
        except NotImplementedError as exc:
            raise CommandError(f"cannot connect to {target}: {exc}") from exc
    else:
        from trimcp.cli.spec import parse_server_spec

        spec = parse_server_spec(target)  # a bad spec fails here, before any process starts
        where = spec.display
        log = tempfile.TemporaryFile()
        command = [sys.executable, "-m", "trimcp", "run", spec.absolute(), "--no-banner"]
        if server_args:
            command += ["--", *server_args]
        transport = StdioTransport(
            command[0], command[1:], env=dict(os.environ), cwd=os.getcwd(), log_file=log
        )
    try:
        client = Client(transport, init_timeout=timeout)
        try:
            await client.__aenter__()
        except (ClientError, McpError, OSError) as exc:
            reason = _server_stderr_tail(log) or str(exc)
            raise CommandError(f"cannot reach the server {where}: {reason}") from exc
        except Exception as exc:  # the HTTP stack's own connection errors
            raise CommandError(
                f"cannot reach the server {where}: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            yield client
        finally:
            await client.__aexit__(None, None, None)
    finally:
        if log is not None:
            log.close()


def _server_stderr_tail(log: Any) -> str | None:
    """The last line the child server wrote to stderr (its own `error: ...` line)."""
    if log is None:
        return None
    log.seek(0)
    text: str = log.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    return last[len("error: ") :] if last.startswith("error: ") else last


# -- list ------------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    import anyio

    async def main() -> None:
        with anyio.fail_after(args.timeout):
            async with _connected(args.target, args.server_args, args.timeout) as client:
                await _list(client, as_json=args.json)

    _run(main, args.timeout)
    return 0


async def _list(client: Any, *, as_json: bool) -> None:
    from msgspec import to_builtins

    capabilities = client.server_capabilities
    tools = await client.list_tools() if capabilities.tools is not None else []
    resources, templates = [], []
    if capabilities.resources is not None:
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
    prompts = await client.list_prompts() if capabilities.prompts is not None else []
    if as_json:
        dump_json(
            {
                "tools": to_builtins(tools),
                "resources": to_builtins(resources),
                "resourceTemplates": to_builtins(templates),
                "prompts": to_builtins(prompts),
            }
        )
        return
    lines = [f"Tools ({len(tools)})"]
    for tool in tools:
        lines.append(f"  {tool.name}({_signature(tool.inputSchema)}){_about(tool.description)}")
    lines.append(f"Resources ({len(resources)})")
    for resource in resources:
        lines.append(f"  {resource.uri}{_about(resource.description)}")
    lines.append(f"Resource templates ({len(templates)})")
    for template in templates:
        lines.append(f"  {template.uriTemplate}{_about(template.description)}")
    lines.append(f"Prompts ({len(prompts)})")
    for prompt in prompts:
        names = ", ".join(a.name + ("" if a.required else "?") for a in (prompt.arguments or []))
        lines.append(f"  {prompt.name}({names}){_about(prompt.description)}")
    print("\n".join(lines))


def _about(description: str | None) -> str:
    if not description:
        return ""
    return "  - " + description.strip().splitlines()[0]


def _signature(schema: dict[str, Any]) -> str:
    required = set(schema.get("required") or ())
    parts = []
    for name, prop in (schema.get("properties") or {}).items():
        kinds = "|".join(sorted(_types(prop))) or "any"
        parts.append(f"{name}{'' if name in required else '?'}: {kinds}")
    return ", ".join(parts)


# -- call ------------------------------------------------------------------------------------


def run_call(args: argparse.Namespace) -> int:
    import anyio

    pairs = [_split_pair(item) for item in args.arguments]  # bad syntax fails before connecting
    extra: dict[str, Any] = {}
    if args.json_arguments:
        try:
            extra = json.loads(args.json_arguments)
        except ValueError as exc:
            raise CommandError(f"--args is not valid JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise CommandError("--args must be a JSON object")
    failed = False

    async def main() -> None:
        nonlocal failed
        with anyio.fail_after(args.timeout):
            async with _connected(args.target, args.server_args, args.timeout) as client:
                failed = await _call(client, args.tool, pairs, extra, as_json=args.json)

    _run(main, args.timeout)
    return 1 if failed else 0


def _run(main: Any, timeout: float) -> None:
    import anyio

    try:
        anyio.run(main)
    except TimeoutError:
        raise CommandError(f"no answer within {timeout:g} s (see --timeout)") from None


async def _call(
    client: Any, name: str, pairs: list[tuple[str, str]], extra: dict[str, Any], *, as_json: bool
) -> bool:
    """Call the tool; print its result. Returns whether the tool reported an error."""
    from msgspec import to_builtins

    from trimcp.exceptions import McpError

    tools = {tool.name: tool for tool in await client.list_tools()}
    tool = tools.get(name)
    if tool is None:
        available = ", ".join(sorted(tools)) or "none"
        raise CommandError(f"unknown tool {name!r} (tools: {available})")
    arguments = build_arguments(pairs, tool.inputSchema, tool=name, base=extra)
    try:
        result = await client.call_tool_mcp(name, arguments)
    except McpError as exc:
        raise CommandError(f"calling {name!r} failed: {exc}") from exc
    if as_json:
        dump_json(to_builtins(result))
        return bool(result.isError)
    text = _render(result)
    if result.isError:
        print(f"error: tool {name!r} failed: {text or 'no details'}", file=sys.stderr)
        return True
    if text:
        print(text)
    elif result.structuredContent is not None:
        dump_json(result.structuredContent)
    return False


def _render(result: Any) -> str:
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(
                f"[{kind}: {block.mimeType}, {len(block.data) * 3 // 4} bytes base64-decoded]"
            )
        elif kind == "resource_link":
            parts.append(f"[resource link: {block.uri}]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[embedded resource: {resource.uri}]")
        else:
            parts.append(f"[{kind} content]")
    return "\n".join(parts)


# -- arguments -------------------------------------------------------------------------------


def _split_pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise CommandError(f"bad argument {item!r}: expected KEY=VALUE (e.g. n=5, name=Ada)")
    return key, value


def _types(prop: Any) -> set[str]:
    """The JSON types a property schema accepts (looking through anyOf/oneOf)."""
    if not isinstance(prop, dict):
        return set()
    kind = prop.get("type")
    found = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    for option in (prop.get("anyOf") or []) + (prop.get("oneOf") or []):
        found |= _types(option)
    if "enum" in prop and not found:
        found |= {_json_type(v) for v in prop["enum"]}
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _coerce(text: str, prop: Any) -> Any:
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    types = _types(prop)
    if not types:
        return value
    actual = _json_type(value)
    if actual in types or (actual == "integer" and "number" in types):
        return value
    if "string" in types:
        return text  # `name=5` or `id=null` for a string: the user meant the text
    if "boolean" in types and isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    return value  # not obvious: the server's validation explains the mismatch


def build_arguments(
    pairs: list[tuple[str, str]],
    schema: dict[str, Any],
    *,
    tool: str,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Tool arguments from `KEY=VALUE` pairs (over `base`, from `--args`), checked against the
    tool's input schema.

    Raises:
        CommandError: a key the tool does not take, or a required one missing.
    """
    properties: dict[str, Any] = schema.get("properties") or {}
    extra_allowed = schema.get("additionalProperties")
    closed = extra_allowed is False or (bool(properties) and extra_allowed is None)
    arguments: dict[str, Any] = dict(base or {})
    for key, text in pairs:
        if key not in properties and closed:
            accepted = ", ".join(properties) or "none"
            raise CommandError(f"tool {tool!r} has no argument {key!r} (arguments: {accepted})")
        arguments[key] = _coerce(text, properties.get(key))
    missing = [name for name in schema.get("required") or () if name not in arguments]
    if missing:
        raise CommandError(f"tool {tool!r} needs {', '.join(missing)} (give them as KEY=VALUE)")
    return arguments
