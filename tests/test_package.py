"""The package itself: what a submodule may read from it while it is imported."""

from tests.conftest import run_python

# Record skmm.__version__ at the moment the first submodule (skmm._config) starts
# importing, then import the package as a user would.
_PROBE = """
import importlib.abc, sys
seen = {}
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "skmm._config" and "skmm" in sys.modules:
            seen["version"] = getattr(sys.modules["skmm"], "__version__", None)
        return None
sys.meta_path.insert(0, Probe())
import skmm
print(seen["version"] == skmm.__version__, skmm.__version__)
"""


def test_version_is_defined_before_the_submodules_are_imported():
    result = run_python("-c", _PROBE)
    assert result.stdout.split()[0] == "True", result.stdout


# -- the house is one-way ----------------------------------------------------------
# Each part of skmm (a top-level module, or a subpackage with everything in it) has
# a layer; a part imports only parts of lower layers, besides its own modules.
# Layer 0 are the leaves: they import nothing of skmm. Lazy imports (inside a
# function) count: they are the same dependency, only later.
LAYERS = {
    "skmm.exceptions": 0,
    "skmm._version": 0,
    "skmm._config": 0,
    "skmm._torch": 0,
    "skmm._dataframe": 0,
    "skmm._docs": 0,
    "skmm._composition": 0,
    "skmm._paths": 0,
    "skmm.datasets": 0,
    "skmm.io": 1,
    "skmm._progress": 1,
    "skmm._weights": 1,
    "skmm.cache": 1,
    "skmm.encoders": 2,
    "skmm.compose": 3,  # the union: knows encoders, never a head
    "skmm.fusion": 4,
    "skmm.crossmodal": 4,
    "skmm.inspection": 4,
    "skmm.distributed": 4,
    "skmm.ensemble": 5,
    "skmm.finetune": 5,
    "skmm._pipeline": 6,  # make_multimodal_pipeline: a union and a head
    "skmm": 7,  # the package's __init__: the public names
    "skmm._demo": 7,
    "skmm.cli": 8,
    "skmm.__main__": 9,
}


def _skmm_imports():
    """``{module: {imported skmm module: line}}`` for every module of skmm, read
    from its source (nothing is imported)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "skmm"
    modules = {}
    for path in root.rglob("*.py"):
        parts = ("skmm",) + path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = (path, is_package)

    def resolve(base: str, names) -> list[str]:
        # ``from pkg import sub`` imports the submodule ``pkg.sub``.
        found = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
        return found if len(found) == len(names) else [base, *found]

    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        edges = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == "skmm"]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                if base.split(".")[0] != "skmm":
                    continue
                targets = resolve(base, [a.name for a in node.names])
            else:
                continue
            for target in targets:
                while target not in modules:  # an attribute path: its module
                    target = target.rpartition(".")[0]
                if target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return module if len(parts) == 1 else ".".join(parts[:2])


def test_no_module_imports_upward():
    """python -m pytest tests/test_package.py: every import of skmm's modules
    against the layer table above (a new part must be given its layer)."""
    graph = _skmm_imports()
    unknown = sorted({_part(m) for m in graph} - set(LAYERS))
    assert not unknown, f"parts without a layer in LAYERS: {unknown}"
    upward = [
        f"{module}:{line} imports {target} (layer {LAYERS[_part(target)]} >= "
        f"{LAYERS[_part(module)]})"
        for module, edges in sorted(graph.items())
        for target, line in sorted(edges.items())
        if _part(target) != _part(module)
        and LAYERS[_part(target)] >= LAYERS[_part(module)]
    ]
    assert not upward, "imports against the flow:\n" + "\n".join(upward)


def test_no_import_circles():
    """No module reaches itself through imports, lazy ones included (a package's
    ``__init__`` imports its modules; a module imports its siblings by name)."""
    graph = _skmm_imports()
    circles, done = [], set()

    def visit(module, path):
        if module in path:
            circles.append(" -> ".join(path[path.index(module) :] + [module]))
            return
        if module in done:
            return
        for target in graph.get(module, {}):
            visit(target, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert not circles, "import circles:\n" + "\n".join(sorted(set(circles)))
