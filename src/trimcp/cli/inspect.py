"""`trimcp inspect SPEC [--format trimcp|mcp] [-o FILE]`: describe a server as JSON without
starting a transport (nor its lifespan).

- `--format mcp`: exactly what a client sees on the wire: the `initialize` result's
  `serverInfo`, `capabilities` and `instructions`, and the items of `tools/list`,
  `resources/list`, `resources/templates/list` and `prompts/list`.
- `--format trimcp` (default): a summary for people and scripts: snake_case fields, the lookup
  `key` of each component, its `tags` and `enabled` state, and the trimcp and protocol versions.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from trimcp.cli._common import CommandError, dump_json
from trimcp.core import answers

__all__ = ["build_report", "command", "configure"]

_SNAKE = {
    "inputSchema": "input_schema",
    "outputSchema": "output_schema",
    "mimeType": "mime_type",
    "uriTemplate": "uri_template",
    "websiteUrl": "website_url",
}


def configure(parser: argparse.ArgumentParser) -> None:
    from trimcp.cli.run import add_spec_arguments

    add_spec_arguments(parser)
    parser.add_argument(
        "-f",
        "--format",
        choices=("trimcp", "mcp"),
        default="trimcp",
        help="trimcp: a summary with tags and keys (default); mcp: the MCP wire shapes",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the JSON here, not stdout")


def command(args: argparse.Namespace) -> int:
    import anyio

    from trimcp.cli.spec import import_server, parse_server_spec

    spec = parse_server_spec(args.spec, module=args.module)
    build = import_server(spec, server_args=args.server_args)

    async def report() -> dict[str, Any]:
        return await build_report(await build(), fmt=args.format)

    data = anyio.run(report)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                dump_json(data, file=f)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output!r}: {exc.strerror or exc}") from exc
        counts = ", ".join(f"{len(data[k])} {k}" for k in _list_keys(args.format))
        print(f"wrote {os.path.abspath(args.output)} ({counts})")
    else:
        dump_json(data)
    return 0


def _list_keys(fmt: str) -> tuple[str, ...]:
    if fmt == "mcp":
        return ("tools", "resources", "resourceTemplates", "prompts")
    return ("tools", "resources", "templates", "prompts")


async def build_report(server: Any, *, fmt: str = "trimcp") -> dict[str, Any]:
    """The `inspect` report of `server` in format `"trimcp"` or `"mcp"`."""
    from msgspec import to_builtins

    tools = [
        (k, t, to_builtins(t.to_mcp_tool(name=k))) for k, t in (await server.get_tools()).items()
    ]
    resources = [
        (k, r, to_builtins(r.to_mcp_resource(uri=k)))
        for k, r in (await server.get_resources()).items()
    ]
    templates = [
        (k, t, to_builtins(t.to_mcp_template(uriTemplate=k)))
        for k, t in (await server.get_resource_templates()).items()
    ]
    prompts = [
        (k, p, to_builtins(p.to_mcp_prompt(name=k)))
        for k, p in (await server.get_prompts()).items()
    ]
    implementation = to_builtins(answers.implementation(server))
    capabilities = to_builtins(answers.capabilities(server))
    if fmt == "mcp":
        report: dict[str, Any] = {
            "serverInfo": implementation,
            "capabilities": capabilities,
        }
        if server.instructions is not None:
            report["instructions"] = server.instructions
        report["tools"] = [wire for _, _, wire in tools]
        report["resources"] = [wire for _, _, wire in resources]
        report["resourceTemplates"] = [wire for _, _, wire in templates]
        report["prompts"] = [wire for _, _, wire in prompts]
        return report

    from trimcp import __version__
    from trimcp.protocol.versions import SUPPORTED_VERSIONS

    server_part = {_SNAKE.get(k, k): v for k, v in implementation.items()}
    server_part.update(
        instructions=server.instructions,
        capabilities=capabilities,
        trimcp_version=__version__,
        protocol_versions=list(SUPPORTED_VERSIONS),
    )
    return {
        "format": "trimcp",
        "server": server_part,
        "tools": [_summary(k, t, w) for k, t, w in tools],
        "resources": [_summary(k, r, w) for k, r, w in resources],
        "templates": [_summary(k, t, w) for k, t, w in templates],
        "prompts": [_summary(k, p, w) for k, p, w in prompts],
    }


def _summary(key: str, component: Any, wire: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": key}
    for name, value in wire.items():
        if name == "_meta":
            continue
        entry[_SNAKE.get(name, name)] = value
    entry["name"] = component.name
    entry["tags"] = sorted(component.tags)
    entry["enabled"] = bool(component.enabled)
    entry["meta"] = component.meta
    return entry
