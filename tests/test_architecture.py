"""The package's shape, as data: every module sits in exactly one layer of :data:`LAYERS`,
imports only point down the list (or stay in their layer), the client side (``cli``,
``client``) imports only itself and the shared leaves and nothing of the daemon imports
it, there is no cycle anywhere (type-only imports included), and every module is small
enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "coven_trio"
#: A module over this many lines holds more than one concept (house style).
MAX_LINES = 400

#: Top to bottom. A module belongs to the first layer one of whose prefixes names it (a
#: prefix is a module or a package); it may import its own layer and the ones below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry", ("coven_trio.main", "coven_trio.__main__")),
    ("command line", ("coven_trio.cli",)),
    ("client", ("coven_trio.client",)),
    ("serve", ("coven_trio._serve",)),
    ("package", ("coven_trio",)),  # the root: lazy names of the public API
    ("daemon", ("coven_trio.daemon", "coven_trio._upkeep")),
    ("listeners and fleet", ("coven_trio.web", "coven_trio.fleet")),
    ("views", ("coven_trio.api",)),
    ("http", ("coven_trio.http",)),
    ("sessions", ("coven_trio.sessions",)),
    ("services", ("coven_trio.worktrees", "coven_trio.notify")),
    ("launch", ("coven_trio.launch", "coven_trio.harness")),
    (
        "data",
        (
            "coven_trio.journal",
            "coven_trio.store",
            "coven_trio.models",
            "coven_trio.schema",
            "coven_trio.agents",
            "coven_trio._home",
            "coven_trio.config",
            "coven_trio._log",
            "coven_trio.records",
        ),
    ),
    (
        "shared leaves",
        (
            "coven_trio.vocabulary",
            "coven_trio.errors",
            "coven_trio._json",
            "coven_trio._defaults",
            "coven_trio._clock",
            "coven_trio._version",
            "coven_trio._files",
            "coven_trio._flags",
            "coven_trio.render",
        ),
    ),
]
CLIENT_SIDE = ("coven_trio.cli", "coven_trio.client")
SHARED = dict(LAYERS)["shared leaves"]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(name: str) -> int:
    """The index in :data:`LAYERS` of the layer ``name`` belongs to (its most specific
    prefix decides: ``coven_trio.cli._chat`` is the command line, not the root)."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(name, prefix) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports (at any level of the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            edges |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    edges.add(sub)
                elif target in modules:
                    edges.add(target)
    edges.discard(name)
    return edges


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_every_module_is_in_a_layer() -> None:
    assert [name for name in _modules() if layer_of(name) < 0] == []


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for name, targets in _graph().items()
        for target in targets
        if layer_of(target) < layer_of(name)
    ]
    assert upward == []


def test_the_client_side_imports_only_itself_and_the_shared_leaves() -> None:
    allowed = (*CLIENT_SIDE, *SHARED)
    leaks = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if name.startswith(CLIENT_SIDE)
        for target in targets
        if not any(_within(target, prefix) for prefix in allowed)
    ]
    assert leaks == []


def test_nothing_of_the_daemon_imports_the_client_side() -> None:
    leaks = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if layer_of(name) > layer_of("coven_trio.client")
        for target in targets
        if target.startswith(CLIENT_SIDE)
    ]
    assert leaks == []


def test_no_import_cycle_in_the_package() -> None:
    graph = _graph()
    assert graph["coven_trio.api.coven_v1"]  # the walk sees imports at all
    assert _cycles(graph) == []


def test_the_checks_find_what_they_look_for() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert layer_of("coven_trio.cli._chat") < layer_of("coven_trio.daemon")
    assert layer_of("coven_trio.sessions._state") < layer_of("coven_trio.vocabulary")
    assert layer_of("coven_trio") < layer_of("coven_trio.daemon")


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_architecture_page_names_every_module() -> None:
    """docs/architecture.md lists the package by layer: a new module is named there (and
    so placed) or this fails."""
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    unnamed = [
        name
        for name, path in _modules().items()
        if path.name != "__init__.py" and path.name not in page
    ]
    assert unnamed == []
    packages = {p.parent.name for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    assert sorted(p for p in packages if f"{p}/" not in page) == []
