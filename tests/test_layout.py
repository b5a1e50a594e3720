"""The package's shape: one layer per folder, imports that run one way (docs/architecture.md).

Read from the source with ``ast`` (nothing is imported), so a violation fails here
before it can hide behind import order:

- layers: cli -> studies -> sim -> results -> model -> grid; a module imports, at
  module level, only from its own layer or the layers below it; ``results``
  depends on ``model`` only;
- a function-level (lazy) import that points upward is allowed only in the
  facade methods listed in ``FACADES`` (``Scenario.run``, ``format_table``, ...);
- no import circle between modules, counting lazy imports too;
- no module imports another module's private ``_name`` (the compiled kernels are
  private modules of ``sim``, imported only there);
- nothing below ``cli`` prints or pads text columns;
- no module over 600 lines without a reason written in it.
"""
from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "carbonsim"
LAYERS = {"grid": 0, "model": 1, "results": 2, "sim": 3, "studies": 4, "cli": 5}
TOP = {"carbonsim", "carbonsim.__main__", "carbonsim._moved", "carbonsim._version"}

#: Methods below cli that hand the work to a higher layer at call time (lazy import).
FACADES = {
    ("carbonsim.model.builder", "Scenario.run"): "carbonsim.sim.simulate",
    ("carbonsim.model.objects", "ResolvedScenario.summary"): "carbonsim.cli.tables",
    ("carbonsim.model.serving", "ResolvedServing.summary"): "carbonsim.cli.tables",
    ("carbonsim.sim.serving_result", "ServingResult.summary"): "carbonsim.cli.tables",
    ("carbonsim.results.result", "Result.format_table"): "carbonsim.cli.tables",
    ("carbonsim.studies.compare", "Comparison.format_table"): "carbonsim.cli.tables",
    ("carbonsim.studies.sweep", "SweepResult.format_table"): "carbonsim.cli.tables",
    ("carbonsim.studies.montecarlo", "UncertaintyResult.headline"): "carbonsim.cli.tables",
    ("carbonsim.studies.montecarlo", "UncertaintyResult.format_table"): "carbonsim.cli.tables",
    ("carbonsim.studies.montecarlo", "UncertaintyResult.plot"): "carbonsim.cli.plots",
    ("carbonsim.results.result", "Result.__repr__"): "carbonsim.cli.notebook",
    ("carbonsim.results.result", "Result._repr_html_"): "carbonsim.cli.notebook",
    ("carbonsim.studies.compare", "Comparison.__repr__"): "carbonsim.cli.notebook",
    ("carbonsim.studies.compare", "Comparison._repr_html_"): "carbonsim.cli.notebook",
    ("carbonsim.studies.montecarlo", "UncertaintyResult.__repr__"): "carbonsim.cli.notebook",
    ("carbonsim.studies.montecarlo", "UncertaintyResult._repr_html_"): "carbonsim.cli.notebook",
    ("carbonsim.studies.sweep", "SweepResult.__repr__"): "carbonsim.cli.notebook",
    ("carbonsim.studies.sweep", "SweepResult._repr_html_"): "carbonsim.cli.notebook",
}


def _modules() -> dict[str, Path]:
    mods = {}
    for f in ROOT.rglob("*.py"):
        parts = ["carbonsim", *f.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


MODULES = _modules()
COMPILED = {f"carbonsim.sim.{p.name.split('.')[0]}" for p in (ROOT / "sim").glob("_*.so")} | {
    "carbonsim.sim._kernels", "carbonsim.sim._serving"}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not MODULES[module].name == "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str):
    """(target module, imported name or None, enclosing function qualname or None, node) per import."""
    tree = ast.parse(MODULES[module].read_text())
    out = []

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, scope + [child.name])
                continue
            if isinstance(child, ast.ImportFrom):
                target = _resolve(module, child)
                for a in child.names:
                    sub = f"{target}.{a.name}"
                    if sub in MODULES or sub in COMPILED:
                        out.append((sub, None, scope, child))
                    else:
                        out.append((target, a.name, scope, child))
            elif isinstance(child, ast.Import):
                for a in child.names:
                    out.append((a.name, None, scope, child))
            else:
                visit(child, scope)

    visit(tree, [])
    return out


def _function_scope(scope: list[str]) -> str | None:
    """The qualname of the function an import sits in, or None at module/class level."""
    return ".".join(scope) if scope else None


def _own(target: str) -> bool:
    return target == "carbonsim" or target.startswith("carbonsim.")


def test_the_tree_shows_the_layers():
    for folder in LAYERS:
        assert (ROOT / folder / "__init__.py").exists(), folder
    flat = sorted(p.name for p in ROOT.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "_moved.py", "_version.py"], flat


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in TOP))
def test_imports_run_one_way(module):
    me = _layer(module)
    bad = []
    for target, _name, scope, node in _imports(module):
        if not _own(target) or target in TOP - {"carbonsim"}:
            continue
        there = _layer(target)
        if target == "carbonsim" or there is None:
            bad.append(f"line {node.lineno}: imports the top-level package ({target})")
            continue
        where = _function_scope(scope)
        if where is not None and FACADES.get((module, where)) == target:
            continue          # a facade method handing the work up at call time
        if module.startswith("carbonsim.results") and there not in (LAYERS["model"], LAYERS["results"]):
            bad.append(f"line {node.lineno}: results depends on model only, imports {target}")
        if there > me:
            bad.append(f"line {node.lineno}: {module} (layer {me}) imports {target} (layer {there})"
                       + (f" in {where}" if where else " at module level"))
    assert not bad, "\n".join(bad)


def test_facades_exist_and_import_what_they_say():
    found = set()
    for module in MODULES:
        if module in TOP:
            continue
        for target, _name, scope, _node in _imports(module):
            key = (module, _function_scope(scope))
            if key in FACADES and FACADES[key] == target:
                found.add(key)
    assert found == set(FACADES), set(FACADES) - found


def test_no_import_circles_counting_lazy_imports():
    graph = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _name, _scope, _node in _imports(m):
            if target in MODULES and target != m and target != "carbonsim":
                graph[m].add(target)
    circles, seen, stack = [], set(), []

    def visit(n):
        if n in stack:
            circles.append(" -> ".join(stack[stack.index(n):] + [n]))
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for k in sorted(graph[n]):
            visit(k)
        stack.pop()

    for n in sorted(graph):
        if n != "carbonsim":
            visit(n)
    assert not circles, "\n".join(sorted(set(circles))[:10])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_names_cross_modules(module):
    bad = []
    for target, name, _scope, node in _imports(module):
        if not _own(target):
            continue
        if name is not None and name.startswith("_") and name != "__version__":
            bad.append(f"line {node.lineno}: imports {name} from {target}")
        leaf = target.rsplit(".", 1)[-1]
        if name is None and leaf.startswith("_") and target not in TOP:
            if target in COMPILED and module.startswith("carbonsim.sim"):
                continue      # the compiled kernels are private modules of the engine layer
            bad.append(f"line {node.lineno}: imports the private module {target}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("carbonsim.cli")))
def test_nothing_below_cli_prints_or_pads_columns(module):
    tree = ast.parse(MODULES[module].read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                bad.append(f"line {node.lineno}: print()")
            if isinstance(f, ast.Attribute) and f.attr in ("ljust", "rjust"):
                bad.append(f"line {node.lineno}: .{f.attr}() (a text table)")
            if (isinstance(f, ast.Attribute) and f.attr == "write" and isinstance(f.value, ast.Attribute)
                    and f.value.attr in ("stdout", "stderr")):
                bad.append(f"line {node.lineno}: sys.{f.value.attr}.write()")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_overgrown(module):
    text = MODULES[module].read_text()
    n = text.count("\n")
    assert n <= 600 or "Why this module is long:" in text, f"{module}: {n} lines"


@pytest.mark.parametrize("old, new, name", [
    ("carbonsim.scenario", "carbonsim.model", "Scenario"),
    ("carbonsim.serving", "carbonsim.sim.serving", "ServingConfig"),
    ("carbonsim.accounting", "carbonsim.sim.accounting", "IntensityTable"),
    ("carbonsim.study", "carbonsim.studies.montecarlo", "monte_carlo"),
    ("carbonsim.uncertainty", "carbonsim.model.uncertain", "nominal"),
    ("carbonsim.engine", "carbonsim.sim.fleet", "Policy"),
    ("carbonsim.simulation", "carbonsim.sim.simulate", "simulate"),
    ("carbonsim.hardware", "carbonsim.model.hardware", "CATALOG"),
])
def test_old_module_paths_work_for_one_release_with_a_warning(old, new, name):
    import importlib
    import sys
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = importlib.import_module(old)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)
    assert getattr(mod, name) is getattr(importlib.import_module(new), name)


def test_the_public_api():
    import carbonsim
    for name in ("load", "Scenario", "run", "monte_carlo", "sweep", "compare", "Result", "ResolvedScenario",
                 "ScenarioError", "SimulationError", "CATALOG", "Hardware", "Problem", "resolve", "WorkloadResult",
                 "UncertaintyResult", "__version__"):
        assert hasattr(carbonsim, name), name
    from carbonsim import grid
    assert callable(grid.load_signal)
    res = carbonsim.run(Path(__file__).resolve().parent.parent / "scenarios" / "patterson2021.toml")
    assert res.totals.energy_kwh == carbonsim.load(Path(__file__).resolve().parent.parent / "scenarios" /
                                                   "patterson2021.toml").run().totals.energy_kwh
