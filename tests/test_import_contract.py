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
    "_backend_trio": 0,  # the trio request scope `_backend` offers
    "settings": 1,
    "storage": 2,
    # anyio: the request engine, peers, worker threads
    "runtime": 3,
    # byte streams <-> messages (stdio); know nothing of tools
    "transports": 3,
    # OpenTelemetry for served requests: imports exceptions and protocol; core imports it
    "telemetry": 3,
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
    # FastMCP's experimental paths (OpenAPI servers, sampling fallbacks): over the facade
    "experimental": 11,
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


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`, and nothing else (`if not
    TYPE_CHECKING:` runs)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


# Private names trimcp reads that are not trimcp's own, each for a reason.
FOREIGN_PRIVATE = {
    "_current_tasks": "asyncio's dict of each loop's current task, which Python 3.11's "
    "current_task() looks up in Python code: _backend.RequestScope looks it up itself",
    "_eventual_parent_nursery": "trio's Task: a task nursery.start() made may still move "
    "nursery, so _backend's TrioRequestScope gives it its CancelStatus at once",
    "_callback": "asyncio's Handle, read by the backend seam (_backend) to quiet one log line",
    "_activate_cancel_status": "trio's Task: _backend's TrioRequestScope enters and leaves a "
    "CancelStatus as trio's CancelScope does (checked at first use, else trio's own scopes)",
    "_fut_waiter": "asyncio's Task: _backend.RequestScope cancels no task whose awaited future "
    "is done (its result would be lost), as anyio's scopes do",
    "_must_cancel": "asyncio's Task: a cancellation already pending (_backend.RequestScope, as "
    "anyio's scopes)",
    "_parent_scope": "anyio's asyncio CancelScope: _backend.RequestScope walks the scopes entered "
    "in a request to honour their shields (checked at first use, else anyio's own scopes)",
    "_reader": "h11's Connection: whether a request body was wholly received (http.tuning)",
    "_remaining": "h11's ContentLengthReader (http.tuning, with _reader)",
    "_receive_buffer": "h11's Connection (http.tuning, with _reader)",
    "_meta": "MCP's wire field, not a private name",
    "_set_auth": "the hook FastMCP's client transports have for `auth=` (FastMCP's name)",
}


def _defined_names(tree: ast.AST) -> set[str]:
    """Every name a module defines or assigns (functions, classes, variables, attributes it
    stores, parameters, and names it spells as strings: `__slots__`): its own private names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            names.update(
                n.value
                for n in ast.walk(node.value)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
    return names


def _foreign_names(tree: ast.AST) -> set[str]:
    """Local names bound to imports of modules outside trimcp (asyncio, hypercorn...)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(
                (a.asname or a.name).split(".")[0]
                for a in node.names
                if not a.name.startswith("trimcp")
            )
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if not (node.module or "").startswith("trimcp"):
                names.update(a.asname or a.name for a in node.names)
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _string_module(node: ast.expr) -> str | None:
    """The module a string names (`"trimcp.http.app"`), or the fixed start of an f-string
    (`f"trimcp.http.worker_{backend}"`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


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
        own = _defined_names(tree)
        foreign = _foreign_names(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            line = f"{where}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom):
                target = self._absolute(module, path, node)
                if not target.startswith("trimcp"):
                    continue
                self._edge(module, target, line)
                for alias in node.names:
                    name = alias.name
                    submodule = f"{target}.{name}"
                    if (SRC.parent / submodule.replace(".", "/")).exists() or (
                        SRC.parent / (submodule.replace(".", "/") + ".py")
                    ).exists():
                        self._edge(module, submodule, line)
                    elif _private(name) and target != module:
                        self.private.append(f"{line} imports {name} from {target}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("trimcp"):
                        self._edge(module, alias.name, line)
            elif isinstance(node, ast.Call):
                self._call(module, node, line, own)
            elif isinstance(node, ast.Dict):  # lazy-export tables: {"trimcp.x.y": (names)}
                for key in node.keys:
                    named = _string_module(key) if key is not None else None
                    if named is not None and named.startswith("trimcp."):
                        self._edge(module, named, line)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and _private(node.attr)
                and node.attr not in own
                and node.attr not in FOREIGN_PRIVATE
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and _root_name(node.value) not in foreign
            ):
                self.private.append(f"{line} reads {ast.unparse(node)}")

    def _call(self, module: str, node: ast.Call, line: str, own: set[str]) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("import_module", "__import__") and node.args:
            named = _string_module(node.args[0])
            if named is not None and named.startswith("trimcp"):
                self._edge(module, named, line)
        elif name in ("getattr", "hasattr", "setattr") and len(node.args) >= 2:
            target, attr = node.args[0], node.args[1]
            if (
                isinstance(attr, ast.Constant)
                and isinstance(attr.value, str)
                and _private(attr.value)
                and attr.value not in own
                and attr.value not in FOREIGN_PRIVATE
                and not (isinstance(target, ast.Name) and target.id in ("self", "cls"))
            ):
                self.private.append(f"{line} reads {attr.value!r} by {name}")

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
    assert not _is_type_checking(ast.parse("not TYPE_CHECKING", mode="eval").body)
    assert _is_type_checking(ast.parse("typing.TYPE_CHECKING", mode="eval").body)
    assert _string_module(ast.parse('f"trimcp.http.worker_{x}"', mode="eval").body) == (
        "trimcp.http.worker_"
    )
    assert _cycles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": ""}, "b": {}}) == []
    assert len(IMPORTS.modules) > 50
    assert "protocol" in IMPORTS.edges.get("runtime", {})
