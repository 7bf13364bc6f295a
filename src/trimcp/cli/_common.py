"""What every command shares: the CLI's error type, JSON output, `KEY=VALUE` parsing and the
`uv run` re-execution used by `--with`, `--python`, `--project` and `--with-requirements`.

Only the standard library is imported here: `trimcp --help` must start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CommandError",
    "add_uv_options",
    "dump_json",
    "parse_env_file",
    "parse_key_values",
    "uv_run_prefix",
    "wants_uv",
]


class CommandError(Exception):
    """A failure the user can fix: printed as one line (`error: ...`), exit status `code`.

    It never leaves `trimcp.cli.main`, which turns it into the exit status, so it is not part
    of the `trimcp.exceptions` tree the library raises.
    """

    def __init__(self, message: str, *, code: int = 1, details: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details  # printed before the message (a traceback from user code)


def dump_json(data: Any, *, file: Any = None) -> None:
    """Pretty JSON on stdout (or `file`), with a final newline."""
    out = sys.stdout if file is None else file
    out.write(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    out.write("\n")
    out.flush()


def parse_key_values(items: Iterable[str], *, what: str) -> dict[str, str]:
    """`["A=1", "B=x=y"]` -> `{"A": "1", "B": "x=y"}`; a missing `=` is the caller's error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"bad {what} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def parse_env_file(path: str) -> dict[str, str]:
    """A dotenv file: `KEY=VALUE` lines, `#` comments, optional `export ` and quotes."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise CommandError(f"cannot read env file {path!r}: {exc.strerror or exc}") from exc
    out: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


# -- uv ------------------------------------------------------------------------------------


def add_uv_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("environment (through `uv run`)")
    group.add_argument(
        "--with",
        dest="with_packages",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="an extra package for the server's environment (repeatable)",
    )
    group.add_argument(
        "--with-requirements",
        action="append",
        default=[],
        metavar="FILE",
        help="install the packages listed in a requirements file",
    )
    group.add_argument("--python", metavar="VERSION", help="the Python version to run with")
    group.add_argument("--project", metavar="DIR", help="run inside this uv project")


def wants_uv(args: argparse.Namespace) -> bool:
    return bool(args.with_packages or args.with_requirements or args.python or args.project)


def uv_run_prefix(args: argparse.Namespace, *, absolute_paths: bool = False) -> list[str]:
    """`[uv, "run", ...options]` for the uv options in `args`.

    Without `--project`, uv builds a throwaway environment, so trimcp itself is added with
    `--with trimcp`; with a project, the project is expected to depend on it.

    Raises:
        CommandError: `uv` is not on `PATH`.
    """
    uv = shutil.which("uv")
    if uv is None:
        raise CommandError(
            "--with, --with-requirements, --python and --project run the server through `uv run`,"
            " but `uv` is not on PATH (install it: https://docs.astral.sh/uv/)"
        )
    prefix = [uv if absolute_paths else "uv", "run"]
    if args.python:
        prefix += ["--python", args.python]
    if args.project:
        prefix += ["--project", os.path.abspath(args.project) if absolute_paths else args.project]
    else:
        prefix += ["--with", "trimcp"]
    for package in args.with_packages:
        prefix += ["--with", package]
    for requirements in args.with_requirements:
        path = os.path.abspath(requirements) if absolute_paths else requirements
        prefix += ["--with-requirements", path]
    return prefix


def strip_options(argv: Sequence[str], *, flags: set[str], valued: set[str]) -> list[str]:
    """`argv` without the given options (`--x`, `--x V`, `--x=V`), for re-running a command."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in flags:
            continue
        if name in valued:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out
