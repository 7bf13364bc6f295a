"""`trimcp run SPEC [options] [-- server args]`: import a server and serve it.

The server runs in this process on the chosen backend. Two options hand the work to another
process instead: `--with`/`--python`/`--project`/`--with-requirements` re-run the same command
through `uv run`, and `--reload` keeps a supervisor here that restarts a child `trimcp run` on
every change (see `trimcp.cli.reload`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from trimcp.cli._common import CommandError, add_uv_options, strip_options, uv_run_prefix, wants_uv

__all__ = ["command", "configure"]

TRANSPORTS = ("stdio", "http", "streamable-http", "sse")
UV_FLAGS = {"--with", "--with-requirements", "--python", "--project"}


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        nargs="?",
        metavar="SERVER-SPEC",
        help="file.py[:obj], package.module[:obj], a factory (file.py:create_server), "
        "an http(s):// URL or an MCPConfig .json file",
    )
    parser.add_argument(
        "-m", "--module", metavar="MODULE[:OBJ]", help="import the server from a module"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    parser.add_argument(
        "-t",
        "--transport",
        choices=TRANSPORTS,
        default=None,
        help="how clients reach the server (default: stdio)",
    )
    parser.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default 8000; 0 picks a free one)")
    parser.add_argument("--path", help="HTTP path of the MCP endpoint (default /mcp, /sse for sse)")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        help="trimcp's log level",
    )
    parser.add_argument(
        "--no-banner",
        action="store_true",
        help="do not print the banner to stderr (also TRIMCP_SHOW_SERVER_BANNER=0)",
    )
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default=None,
        help="the event loop (default: TRIMCP_BACKEND, else asyncio)",
    )
    parser.add_argument(
        "--server",
        choices=("hypercorn", "uvicorn"),
        default=None,
        help="HTTP: the server (default hypercorn; uvicorn runs on asyncio with uvloop and "
        "httptools, the extra trimcp[uvicorn])",
    )
    parser.add_argument(
        "--stateless", action="store_true", help="HTTP: no sessions, every request stands alone"
    )
    parser.add_argument(
        "--json-response",
        action="store_true",
        help="streamable HTTP: answer with JSON bodies instead of SSE streams",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long requests in flight get to finish (default 3)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart the server when a file in its directory changes (HTTP transports only)",
    )
    add_uv_options(parser)


def command(args: argparse.Namespace) -> int:
    from trimcp.cli.spec import parse_server_spec

    spec = parse_server_spec(args.spec, module=args.module)
    if wants_uv(args):
        return _rerun_through_uv(args)
    transport = args.transport or "stdio"
    if args.stateless and transport == "sse":
        raise CommandError("--stateless applies to streamable HTTP, not to the sse transport")
    if args.json_response and transport in ("stdio", "sse"):
        raise CommandError(f"--json-response applies to streamable HTTP, not to {transport}")
    backend = args.backend or _default_backend()
    _check_backend(backend)
    backend_options = _check_server(args.server, transport, backend)
    if args.reload:
        if transport == "stdio":
            raise CommandError(
                "--reload needs an HTTP transport: a stdio server's client owns its stdin, and a"
                " restarted process cannot take the session over (use --transport http)"
            )
        from trimcp.cli.reload import supervise

        child = [sys.executable, "-m", "trimcp", "run"]
        child += strip_options(args.argv, flags={"--reload"}, valued=set())
        child += ["--", *args.server_args]
        return supervise(child, watch_dir=spec.watch_dir)

    import anyio

    from trimcp.cli.spec import import_server

    options = _transport_options(args, transport)
    show_banner = False if args.no_banner else None
    from trimcp.core.running import exit_status

    build = import_server(spec, server_args=args.server_args)
    return exit_status(
        lambda: anyio.run(
            _serve,
            build,
            transport,
            show_banner,
            options,
            backend=backend,
            backend_options=backend_options,
        )
    )


def _default_backend() -> str:
    from trimcp.settings import settings

    return settings.backend


def _check_backend(backend: str) -> None:
    if backend not in ("asyncio", "trio"):
        raise CommandError(f"unknown backend {backend!r}: expected asyncio or trio")
    if backend == "trio":
        import importlib.util

        if importlib.util.find_spec("trio") is None:
            raise CommandError("--backend trio needs trio: pip install 'trimcp[trio]'")


def _check_server(server: str | None, transport: str, backend: str) -> dict[str, Any] | None:
    """Refuse `--server` where it cannot apply; the backend options it needs (uvloop)."""
    if server is None:
        return None
    if transport == "stdio":
        raise CommandError("--server applies to the HTTP transports, not to stdio")
    if server == "hypercorn":
        return None
    if backend != "asyncio":
        raise CommandError(
            f"--server uvicorn runs on asyncio only, not on {backend}: use --backend asyncio "
            "or --server hypercorn"
        )
    import importlib.util

    missing = [m for m in ("uvicorn", "uvloop", "httptools") if importlib.util.find_spec(m) is None]
    if missing:
        raise CommandError(
            f"--server uvicorn needs {', '.join(missing)}: pip install 'trimcp[uvicorn]'"
        )
    return {"use_uvloop": True}


def _transport_options(args: argparse.Namespace, transport: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.log_level:
        options["log_level"] = args.log_level
    if args.graceful_timeout is not None:
        options["graceful_timeout"] = args.graceful_timeout
    if transport == "stdio":
        for flag in ("host", "port", "path"):
            if getattr(args, flag) is not None:
                raise CommandError(f"--{flag} applies to the HTTP transports, not to stdio")
        if args.stateless:
            options["stateless"] = True
        return options
    for name in ("host", "port", "path"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if args.json_response:
        options["json_response"] = True
    if args.stateless:
        options["stateless_http"] = True
    if args.server is not None:
        options["server"] = args.server
    return options


async def _serve(
    build: Callable[[], Awaitable[Any]],
    transport: str,
    show_banner: bool | None,
    options: dict[str, Any],
) -> int | None:
    """Build the server and serve it until SIGTERM/SIGINT (graceful shutdown); returns the
    signal that stopped it, if any."""
    from trimcp.core.running import serve_until_signalled

    server = await build()
    return await serve_until_signalled(lambda: server.run_async(transport, show_banner, **options))


def _rerun_through_uv(args: argparse.Namespace) -> int:
    rest = strip_options(args.argv, flags=set(), valued=UV_FLAGS)
    command = [*uv_run_prefix(args), "trimcp", "run", *rest]
    if args.server_args:
        command += ["--", *args.server_args]
    if sys.platform == "win32":
        import subprocess

        return subprocess.call(command)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)
    return 0  # not reached
