"""The house's layers, read from the source with ``ast``: imports point one way and never in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "streamer", "clients", "training")

# Layer of each module prefix, lowest first; a module may import its own layer and those below it.
LAYERS = {
    "streamer.wire": 0,
    "model": 1,
    "streamer.core": 2,
    "streamer.server": 3,
    "streamer.cli": 3,
    "clients": 3,
    "streamer": 4,  # the package's own __init__ / __main__ re-export from every layer
    "training": 5,  # the recipe may use anything; nothing ships that uses it
}
TORCH_FREE = ("streamer.wire", "clients")  # what the client install holds


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    """Every module of this project that ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PACKAGES or n.split(".")[0] == "torch")
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        # "from streamer.cli import mic" names the module streamer.cli.mic: keep the longest real module.
        edges[name] = {i if i in modules else i.rsplit(".", 1)[0] for i in project_imports(path)} - {name}
    return edges


def layer_of(module: str) -> int | None:
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(prefixes, key=len)] if prefixes else None


def test_no_module_imports_a_higher_layer():
    """wire < model < core < shells (server, cli, clients): nothing imports upward."""
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if module not in ("streamer", "streamer.__main__")
        and layer_of(target) is not None
        and layer_of(module) is not None
        and layer_of(target) > layer_of(module)
    ]
    assert not upward, upward


@pytest.mark.parametrize("layer", TORCH_FREE)
def test_wire_and_clients_import_only_the_wire_layer(layer):
    """A remote client installs without torch: the wire layer and the clients import no torch, model or core."""
    allowed = (layer, "streamer.wire")
    heavy = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module.startswith(layer)
        for target in targets
        if not any(target == a or target.startswith(a + ".") for a in allowed)
    ]
    assert not heavy, heavy


def test_no_import_circles():
    """No two modules of the project import each other, directly or through others."""
    imports = graph()
    edges = {m: {t for t in ts if t in imports} for m, ts in imports.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    # A package __init__ that re-exports its own submodules is not a circle of behaviour.
    real = [c for c in circles if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not real, real


def test_the_model_package_stands_alone():
    """``model/`` (the plain-PyTorch HuBERT, its loading and decoders) imports nothing from ``streamer``,
    so it can be lifted out and used on its own."""
    reaching = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module == "model" or module.startswith("model.")
        for target in targets
        if target == "streamer" or target.startswith("streamer.")
    ]
    assert not reaching, reaching
