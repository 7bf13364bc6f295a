"""The `trimcp` command line: `run`, `inspect`, `list`, `call`, `install`, `version`.

`main()` parses with argparse and hands the namespace to the command's module, imported only
when that command runs: `trimcp --help` and `trimcp version` load no server, pydantic, anyio
or HTTP code, and start in a few tens of milliseconds on top of the interpreter.

Arguments after the first `--` are not trimcp's: they become the server's `sys.argv[1:]`
(`args.server_args`). `args.argv` keeps the command's own arguments, for the commands that
re-run themselves (`--reload`, `--with`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

# name -> (module, configure function, command function, one-line help)
_COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "run": ("trimcp.cli.run", "configure", "command", "run a server (stdio, HTTP or SSE)"),
    "inspect": (
        "trimcp.cli.inspect",
        "configure",
        "command",
        "describe a server's tools, resources and prompts as JSON",
    ),
    "list": (
        "trimcp.cli.client_cmds",
        "configure_list",
        "run_list",
        "list what a server offers (URL or spec)",
    ),
    "call": (
        "trimcp.cli.client_cmds",
        "configure_call",
        "run_call",
        "call a tool: trimcp call TARGET TOOL key=value ...",
    ),
    "install": (
        "trimcp.cli.install",
        "configure",
        "command",
        "add a server to Claude Desktop, Claude Code, Cursor or an mcp.json",
    ),
    "version": ("", "", "", "print the trimcp, protocol, Python and platform versions"),
}

_EPILOG = """\
server specs: server.py, server.py:obj, server.py:create_server (a factory),
package.module:obj, -m package.module, http(s)://host/mcp, mcp-config.json
arguments after `--` are passed to the server as its sys.argv[1:]
"""


def _parser(selected: str | None) -> argparse.ArgumentParser:
    """The parser; only the selected command's options are configured (its module imported)."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="trimcp",
        description="trimcp: run, inspect, call and install MCP servers.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, configure, _, help_text) in _COMMANDS.items():
        sub = commands.add_parser(
            name, help=help_text, description=help_text, allow_abbrev=False, epilog=_EPILOG
        )
        if name == "version":
            sub.add_argument("--json", action="store_true", help="as JSON")
        elif name == selected:
            getattr(importlib.import_module(module), configure)(sub)
    return parser


def version_info() -> dict[str, object]:
    """What `trimcp version` reports."""
    import platform

    from trimcp import __version__
    from trimcp.protocol.versions import HANDSHAKE_VERSIONS, MODERN_VERSIONS

    return {
        "trimcp": __version__,
        "protocol_versions": {
            "handshake": list(HANDSHAKE_VERSIONS),
            "modern": list(MODERN_VERSIONS),
        },
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
    }


def _print_version(*, as_json: bool) -> None:
    info = version_info()
    if as_json:
        import json

        print(json.dumps(info, indent=2))
        return
    protocols = info["protocol_versions"]
    assert isinstance(protocols, dict)
    print(f"trimcp {info['trimcp']}")
    print(
        f"MCP protocol: {', '.join(protocols['handshake'])} (initialize handshake); "
        f"{', '.join(protocols['modern'])} (server/discover)"
    )
    print(f"Python {info['python']}")
    print(f"Platform {info['platform']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default `sys.argv[1:]`); returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    server_args: list[str] = []
    if "--" in arguments:
        split = arguments.index("--")
        arguments, server_args = arguments[:split], arguments[split + 1 :]
    selected = arguments[0] if arguments and arguments[0] in _COMMANDS else None
    parser = _parser(selected)
    args = parser.parse_args(arguments)
    if args.version:
        from trimcp import __version__

        print(f"trimcp {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "version":
        _print_version(as_json=args.json)
        return 0
    args.server_args = server_args
    args.argv = arguments[1:]
    module, _, function, _ = _COMMANDS[args.command]
    return _dispatch(module, function, args)


def _dispatch(module: str, function: str, args: argparse.Namespace) -> int:
    import importlib

    from trimcp.cli._common import CommandError

    try:
        return int(getattr(importlib.import_module(module), function)(args) or 0)
    except BaseException as raised:
        exc = _unwrap(raised)
        if isinstance(exc, CommandError):
            if exc.details:
                print(exc.details, file=sys.stderr)
            print(f"error: {exc}", file=sys.stderr)
            return exc.code
        if isinstance(exc, KeyboardInterrupt):
            return 130
        if isinstance(exc, BrokenPipeError):  # `trimcp inspect s.py | head`: not an error
            _silence_stdout()
            return 0
        if isinstance(exc, SystemExit):
            raise exc from None  # the server's own argparse asked to exit
        library = sys.modules.get("trimcp.exceptions")  # loaded if it can have been raised
        if library is not None and isinstance(exc, library.TrimcpError):
            print(f"error: {exc}", file=sys.stderr)  # e.g. a proxied server is unreachable
            return 1
        if isinstance(exc, OSError):  # the environment: a port in use, a permission, ...
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _unwrap(exc: BaseException) -> BaseException:
    """The one exception inside nested single-exception groups (task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
