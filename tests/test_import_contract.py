"""The import contract of `src/trimcp` (shared/DESIGN.md §1, docs/architecture.md "Layers").

Read from the source with `ast`, no import needed: every `import`/`from ... import` of a
trimcp module counts, inside functions too (a lazy import is still a dependency at run
time); only the block under `if TYPE_CHECKING:` is left out, as it never runs.

- The packages of trimcp (`trimcp.X`, a directory or a module) form no cycle.
- Each package sits in a layer (`LAYERS`) and imports only packages of lower layers: the
  table is the map of the house, and a new package must be placed in it.
- No module imports a private name (`_x`) of another module, nor reads one off a trimcp
  module it imported (`module._x`): a package that needs something of another asks through
  a public, documented name.

The root package (`trimcp/__init__.py`) is the facade: it is loaded before any submodule
and imports its public names lazily, so importing from it (`__version__`) adds no edge.
"""

from __future__ import annotations

import ast
import pathlib
from collections import defaultdict

import trimcp

SRC = pathlib.Path(trimcp.__file__).parent

LAYERS: dict[str, int] = {
    # foundations: sans-I/O protocol, the packages' lazy exports, wire types, errors, the
    # backend seam, settings
    "protocol": 0,
    "_lazy": 0,
    "types": 1,
    "exceptions": 1,
    "_backend": 1,
    "settings": 1,
    "storage": 2,
    # anyio: the request engine, peers, worker threads
    "runtime": 3,
    # byte streams <-> messages (stdio); know nothing of tools
    "transports": 3,
    # components
    "utilities": 4,
    "tools": 5,
    "resources": 5,
    "prompts": 6,
    # beside each other, neither importing the other: the server core (sessions, handlers,
    # Context, middleware, stdio serving) and the client
    "core": 7,
    "client": 7,
    # the streamable HTTP and legacy SSE transports and the HTTP app
    "http": 8,
    "mcp_config": 9,
    # the FastMCP facade, its public module paths, proxies and in-memory adapters
    "server": 10,
    "cli": 11,
    "__main__": 12,
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the root facade


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


class Imports:
    """Every runtime import of a trimcp module by a trimcp module, and private-name uses."""

    def __init__(self) -> None:
        self.edges: dict[str, dict[str, str]] = defaultdict(dict)  # pkg -> pkg -> example
        self.private: list[str] = []
        self.modules: set[str] = set()
        for path in sorted(SRC.rglob("*.py")):
            self._read(path)

    def _read(self, path: pathlib.Path) -> None:
        module = _module_name(path)
        self.modules.add(module)
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        where = f"{path.relative_to(SRC.parent)}"
        module_aliases: dict[str, str] = {}  # local name -> trimcp module it is bound to
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                target = self._absolute(module, path, node)
                if not target.startswith("trimcp"):
                    continue
                self._edge(module, target, f"{where}:{node.lineno}")
                for alias in node.names:
                    name = alias.name
                    submodule = f"{target}.{name}"
                    if (SRC.parent / submodule.replace(".", "/")).exists() or (
                        SRC.parent / (submodule.replace(".", "/") + ".py")
                    ).exists():
                        module_aliases[alias.asname or name] = submodule
                        self._edge(module, submodule, f"{where}:{node.lineno}")
                    elif _private(name) and target != module:
                        self.private.append(f"{where}:{node.lineno} imports {name} from {target}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("trimcp"):
                        self._edge(module, alias.name, f"{where}:{node.lineno}")
                        if alias.asname:
                            module_aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                id(node) not in skipped
                and isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases
                and _private(node.attr)
            ):
                target = module_aliases[node.value.id]
                self.private.append(f"{where}:{node.lineno} reads {node.attr} of {target}")

    @staticmethod
    def _absolute(module: str, path: pathlib.Path, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def _edge(self, importer: str, target: str, where: str) -> None:
        source, dest = _package(importer), _package(target)
        if source is not None and dest is not None and source != dest:
            self.edges[source].setdefault(dest, where)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _cycles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


IMPORTS = Imports()


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in IMPORTS.modules} - {None}
    assert packages - set(LAYERS) == set(), "place the new package in LAYERS"


def test_the_package_graph_has_no_cycle() -> None:
    cycles = _cycles(IMPORTS.edges)
    detail = [
        f"{a} -> {b} ({IMPORTS.edges[a][b]})"
        for cycle in cycles
        for a in cycle
        for b in cycle
        if b in IMPORTS.edges.get(a, {})
    ]
    assert cycles == [], "\n".join(detail)


def test_packages_import_only_lower_layers() -> None:
    upward = [
        f"{source} (layer {LAYERS[source]}) -> {dest} (layer {LAYERS[dest]}): {where}"
        for source, targets in IMPORTS.edges.items()
        for dest, where in targets.items()
        if source in LAYERS and dest in LAYERS and LAYERS[dest] >= LAYERS[source]
    ]
    assert upward == [], "\n".join(sorted(upward))


def test_no_module_imports_a_private_name_of_another() -> None:
    assert IMPORTS.private == [], "\n".join(IMPORTS.private)


def test_the_checker_sees_what_it_must() -> None:
    """The checker itself: lazy imports count, `TYPE_CHECKING` blocks do not, and a private
    name imported or read across modules is found (guards against a checker that passes
    because it reads nothing)."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from trimcp.server import server\n"
        "def f():\n"
        "    from trimcp.http import wire\n"
        "    from trimcp.protocol.jsonrpc import _secret\n"
        "    return wire._x\n"
    )
    tree = ast.parse(source)
    skipped = _type_checking_nodes(tree)
    imported = [
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and id(n) not in skipped and n.module != "typing"
    ]
    assert imported == ["trimcp.http", "trimcp.protocol.jsonrpc"]
    assert _cycles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": ""}, "b": {}}) == []
    assert len(IMPORTS.modules) > 50
    assert "protocol" in IMPORTS.edges.get("runtime", {})
