"""The package's shape: no import circle (lazy imports included), no import of another module's
private names, and docstring references that point at something that exists."""

import ast
import re
from pathlib import Path

import versioned_ml_registry

PACKAGE = Path(versioned_ml_registry.__file__).parent
NAME = "versioned_ml_registry"


def module_name(path: Path) -> str:
    parts = [NAME, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = package_of(module).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def executed(tree):
    """Every node but those under ``if TYPE_CHECKING:``, which never runs."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from executed(node)


def imports(module: str):
    """(imported module, names) for every import statement that runs, at any depth, of ``module``:
    lazy imports inside functions count, annotation-only ones do not."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in executed(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{name}" for name in names if f"{target}.{name}" in MODULES]
            attributes = [name for name in names if f"{target}.{name}" not in MODULES]
            if attributes or not submodules:
                yield target, attributes
            for sub in submodules:
                yield sub, []


def graph() -> dict:
    edges = {}
    for module in MODULES:
        edges[module] = {target for target, _ in imports(module) if target in MODULES and target != module}
    return edges


def cycles(edges: dict) -> list:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_modules():
    assert cycles(graph()) == []


def test_no_import_circle_between_subpackages():
    """The subpackages form layers: a package that imports another is never imported back."""
    def room(module):
        parts = module.split(".")
        return parts[1] if len(parts) > 2 or MODULES[module].name == "__init__.py" and len(parts) == 2 else "."

    edges = {}
    for module, targets in graph().items():
        for target in targets:
            if room(module) != room(target) and "." not in (room(module), room(target)):
                edges.setdefault(room(module), set()).add(room(target))
    assert cycles(edges) == []


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for module in MODULES:
        for target, names in imports(module):
            if target.startswith(NAME) and target != module:
                offenders += [f"{module} imports {target}.{name}" for name in names
                              if name.startswith("_") and not name.startswith("__")]
    assert offenders == []


MOD_REF = re.compile(r":mod:`~?([.\w]+)`")
FILE_REF = re.compile(r"\b((?:docs|src|conf|tests|registry)/[\w./-]+\.(?:md|py|yaml|toml))\b")


def test_every_module_reference_in_a_docstring_exists():
    missing = []
    for module, path in MODULES.items():
        for ref in MOD_REF.findall(path.read_text(encoding="utf-8")):
            if ref.startswith("."):
                base = package_of(module).split(".")
                level = len(ref) - len(ref.lstrip("."))
                target = ".".join(base[: len(base) - (level - 1)] + [ref.lstrip(".")] if ref.lstrip(".") else base)
            else:
                target = ref
            if target not in MODULES and not target.startswith(("sklearn", "skops", "dvc", "gto", "uvicorn")):
                missing.append(f"{module}: :mod:`{ref}`")
    assert missing == []


def test_no_docstring_cites_a_document_that_does_not_exist():
    template = PACKAGE.parents[2]
    project = next(template.glob("{{*}}"))
    stale = []
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if re.search(r"DESIGN(\.md)? section", text):
            stale.append(f"{module}: cites DESIGN, which no file of the repository holds")
        for ref in FILE_REF.findall(text):
            if not any((root / ref).exists() for root in (template, project, template / "registry")):
                stale.append(f"{module}: {ref}")
    assert stale == []
