"""Lists FastMCP-suite tests that reach FastMCP's private names: candidates for `excluded.txt`.

    python bench/fastmcp_suite/find_private.py bench/.cache/fastmcp-suite/fastmcp-2.13.3

A test is listed when its own body (not a fixture it uses) reads one of `PRIVATE` as an attribute,
or uses a private name imported from a `fastmcp` module. The output is `excluded.txt`'s format;
review it before adding lines (the file holds the clear cases only).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# FastMCP 2.13 internals the suite reaches into; trimcp does not grow these names.
PRIVATE = {
    "_tool_manager",
    "_resource_manager",
    "_prompt_manager",
    "_mcp_server",
    "_convert_to_content",
    "_call_tool_mcp",
    "_list_tools_mcp",
    "_list_resources_mcp",
    "_list_resource_templates_mcp",
    "_list_prompts_mcp",
    "_read_resource_mcp",
    "_get_prompt_mcp",
    "_mounted_servers",
    "_deprecated_settings",
    "_should_enable_component",
    "_list_tools_middleware",
}


def private_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fastmcp"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    names.add(alias.asname or alias.name)
    return names


def used(fn: ast.AST, imported: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            found.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in imported:
            found.add(node.id)
    return found


def tests_of(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    out: list[tuple[str, ast.AST]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            out.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    out.append((f"{node.name}::{item.name}", item))
    return out


def main(sdist: Path) -> None:
    for path in sorted((sdist / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        imported = private_imports(tree)
        rel = path.relative_to(sdist).as_posix()
        for name, fn in tests_of(tree):
            names = used(fn, imported)
            if names:
                print(f"{rel}::{name}  # FastMCP private: {', '.join(sorted(names))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
