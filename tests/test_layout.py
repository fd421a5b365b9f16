"""The house by rooms: who may import whom, no import circles, no module over 400 lines.

Read from the source with :mod:`ast`, every import counted, the ones inside
functions too (a lazy import is still a dependency, and a lazy circle is still
a circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENT = ROOT / "agent"
MAX_LINES = 400

# room -> rooms it may import (itself included). A room is the first package
# below ``agent``; ``link.protocol`` is its own room because the gateway shares it.
ALLOWED: dict[str, set[str]] = {
    "common": {"common"},
    "config": {"common", "config"},
    "link.protocol": {"link.protocol"},
    "link": {"common", "link", "link.protocol"},
    "audio": {"common", "audio"},
    "hearing": {"common", "audio", "hearing"},
    "device": {"common", "config", "link", "link.protocol", "audio", "hearing", "device"},
    "doctor": {
        "common", "config", "link", "link.protocol", "audio", "hearing", "device", "doctor",
    },
    "gateway": {"common", "link.protocol", "gateway"},
    "demo": {
        "common", "config", "link", "link.protocol", "audio", "hearing", "device", "gateway",
        "demo",
    },
    "cli": {
        "common", "config", "link", "link.protocol", "audio", "hearing", "device", "doctor",
        "gateway", "demo", "cli",
    },
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(AGENT.rglob("*.py"))}


def room(module: str) -> str:
    parts = module.split(".")
    if parts[1:3] == ["link", "protocol"]:
        return "link.protocol"
    return parts[1] if len(parts) > 1 else ""


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports, anywhere in its source."""
    path = MODULES[module]
    return imports_in(path.read_text(), module, path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool) -> set[str]:
    """The project modules that ``source`` (the text of ``module``) imports."""
    tree = ast.parse(source, module)
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("agent"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not (base == "agent" or base.startswith("agent.")):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports_of(m) for m in MODULES}


def test_the_rooms_exist_and_say_what_they_may_import() -> None:
    for name in ("cli", "config", "link", "audio", "hearing", "device", "doctor", "gateway",
                 "common"):
        init = AGENT / name / "__init__.py"
        assert init.exists(), name
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "may import" in doc.lower(), f"{init}: the docstring must say what it may import"
    assert not [p.name for p in AGENT.glob("*.py") if p.name not in ("__init__.py", "demo.py")]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_at_most_400_lines(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


def wrong_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every ``module -> dep`` of ``graph`` that crosses into a room not allowed."""
    wrong = []
    for module, deps in graph.items():
        here = room(module)
        for dep in deps:
            there = room(dep)
            if here == "" or (there and there not in ALLOWED[here]):
                wrong.append(f"{module} -> {dep}")
    return sorted(wrong)


def cli_importers(graph: dict[str, set[str]]) -> list[str]:
    """Modules outside ``cli`` that import ``cli``."""
    return sorted(m for m, deps in graph.items()
                  if room(m) != "cli" and any(room(d) == "cli" for d in deps))


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles: Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, set()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_rooms_import_only_what_they_may() -> None:
    assert wrong_imports(GRAPH) == []


def test_nothing_imports_cli() -> None:
    assert cli_importers(GRAPH) == []


def test_no_import_circles() -> None:
    assert find_circles(GRAPH) == []


def test_the_checker_sees_a_circle_and_a_wrong_import() -> None:
    # The checks above must be able to fail: made-up graphs that break each
    # rule are caught by the very functions that check the real one.
    ring = {
        "agent.gateway.a": {"agent.gateway.b"},
        "agent.gateway.b": {"agent.gateway.c"},
        "agent.gateway.c": {"agent.gateway.a"},
        "agent.gateway.d": {"agent.gateway.a"},
    }
    assert find_circles(ring) == [["agent.gateway.a", "agent.gateway.b", "agent.gateway.c"]]
    assert find_circles({"agent.x.a": {"agent.x.b"}, "agent.x.b": {"agent.x.a"}}) == [
        ["agent.x.a", "agent.x.b"]
    ]
    assert find_circles({"agent.x.a": {"agent.x.b"}, "agent.x.b": set()}) == []
    reaching = {
        "agent.gateway.server": {"agent.device.daemon", "agent.link.protocol.codec"},
        "agent.audio.sinks": {"agent.config.settings"},
        "agent.common.logs": {"agent.common.redact"},
        "agent": {"agent.common.logs"},
    }
    assert wrong_imports(reaching) == [
        "agent -> agent.common.logs",
        "agent.audio.sinks -> agent.config.settings",
        "agent.gateway.server -> agent.device.daemon",
    ]
    assert cli_importers({"agent.device.daemon": {"agent.cli.main"},
                          "agent.cli.run": {"agent.cli.main"}}) == ["agent.device.daemon"]


def test_a_lazy_import_inside_a_function_counts() -> None:
    # A made-up module whose only import of the device sits in a function.
    source = "def later():\n    from agent.device import daemon\n    return daemon\n"
    found = imports_in(source, "agent.gateway.made_up", is_package=False)
    assert "agent.device.daemon" in found
    assert wrong_imports({"agent.gateway.made_up": found}) == [
        "agent.gateway.made_up -> agent.device.daemon"
    ]


def reachable_from(graph: dict[str, set[str]], roots: set[str]) -> set[str]:
    """Every module ``roots`` import, directly or not, the roots included."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, set()))
    return seen


def run_by_name() -> set[str]:
    """Modules imported by name rather than by an import statement: the factories
    of the agents and of the speakers, named as ``module:function`` strings."""
    from agent.gateway.dialog.registry import FACTORIES as AGENTS
    from agent.gateway.tts.factory import FACTORIES as SPEAKERS

    return {target.partition(":")[0] for target in [*AGENTS.values(), *SPEAKERS.values()]}


def test_every_module_is_part_of_the_product() -> None:
    # Test equipment lives in tests/: every module of agent/ is reached from
    # the commands (agent.cli), or it is only there for the tests.
    roots = {m for m in MODULES if room(m) == "cli"} | (run_by_name() & set(MODULES))
    packages = {m for m in MODULES if MODULES[m].name == "__init__.py"}
    unused = set(MODULES) - reachable_from(GRAPH, roots) - packages
    assert sorted(unused) == []


def test_the_product_check_sees_a_test_only_module() -> None:
    graph = {"agent.cli.main": {"agent.device.daemon"}, "agent.device.daemon": set(),
             "agent.audio.room": set()}
    assert reachable_from(graph, {"agent.cli.main"}) == {"agent.cli.main", "agent.device.daemon"}
