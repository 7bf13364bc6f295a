"""Helpers for the CLI tests (no tests here): the real `trimcp` executable, server files, and
HTTP servers started as subprocesses whose bound URL is read from the banner."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = [
    "CLI_PYTHON",
    "SERVER_SOURCE",
    "TRIMCP",
    "cli_env",
    "http_server",
    "read_stderr_until",
    "run_cli",
    "write",
]


def _find_trimcp() -> str:
    beside = Path(sys.executable).parent / ("trimcp.exe" if sys.platform == "win32" else "trimcp")
    found = str(beside) if beside.exists() else shutil.which("trimcp")
    if found is None:
        raise RuntimeError(
            "the `trimcp` console script is not installed: pip install -e . in this venv"
        )
    return found


TRIMCP = _find_trimcp()


def _script_python(script: str) -> str:
    """The interpreter the `trimcp` executable runs under (its shebang): what `install`
    records as the command. It may differ from this process's `sys.executable` spelling
    (`python3` vs `python`) though both are the same venv."""
    try:
        with open(script, "rb") as handle:
            first = handle.readline().decode().strip()
    except OSError:
        return sys.executable
    return first[2:].split()[0] if first.startswith("#!") else sys.executable


CLI_PYTHON = _script_python(TRIMCP)

SERVER_SOURCE = '''
import argparse

from trimcp import FastMCP

parser = argparse.ArgumentParser()
parser.add_argument("--greeting", default="Hello")
options = parser.parse_args()

mcp = FastMCP("Demo", instructions="Be kind.")


@mcp.tool(tags={"math"})
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@mcp.tool
def greet(name: str) -> str:
    return f"{options.greeting}, {name}!"


@mcp.tool
def switch(on: bool = False) -> str:
    return f"on={on}"


@mcp.tool
def fail() -> str:
    raise ValueError("it broke")


@mcp.resource("data://config", tags={"cfg"})
def config() -> dict:
    return {"debug": False}


@mcp.resource("data://items/{item_id}")
def item(item_id: str) -> str:
    return item_id


@mcp.prompt
def ask(topic: str) -> str:
    return f"Tell me about {topic}"


if __name__ == "__main__":
    raise SystemExit("the __main__ block ran")
'''


def write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment, without banner settings that would change output."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TRIMCP_SHOW_SERVER_BANNER", "FASTMCP_SHOW_SERVER_BANNER", "TRIMCP_BACKEND")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    *args: str | os.PathLike[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the `trimcp` executable to completion (bounded by `timeout`)."""
    return subprocess.run(
        [TRIMCP, *map(str, args)],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin if stdin is not None else "",
    )


async def read_stderr_until(
    stream: BufferedByteReceiveStream, predicate: Callable[[str], bool], seen: list[str]
) -> str:
    """Read stderr lines (appending to `seen`) until one satisfies `predicate`; the caller
    bounds the wait with `anyio.fail_after`."""
    while True:
        line = (await stream.receive_until(b"\n", 65536)).decode("utf-8", "replace")
        seen.append(line)
        if predicate(line):
            return line


_URL = re.compile(r" at (https?://\S+)")


@asynccontextmanager
async def http_server(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Any, str, BufferedByteReceiveStream, list[str]]]:
    """`trimcp run ARGS` (which must ask for an HTTP transport on port 0): yields the process,
    the endpoint URL read from the banner, its stderr reader and the lines read so far. On
    exit the process gets SIGTERM and must stop gracefully."""
    process = await anyio.open_process(
        [TRIMCP, "run", *args],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        assert process.stderr is not None
        stderr = BufferedByteReceiveStream(process.stderr)
        with anyio.fail_after(30):
            banner = await read_stderr_until(stderr, lambda line: " at http" in line, seen)
        match = _URL.search(banner)
        assert match is not None, banner
        yield process, match.group(1), stderr, seen
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(15):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await process.aclose()
