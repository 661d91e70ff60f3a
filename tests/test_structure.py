"""The package's wings import only downward: a module never imports a wing above its own, so the shared code
reads from the ground floor up without circles (common/__init__.py, the package's face, is the one exception)."""
import ast
from pathlib import Path

COMMON = Path(__file__).resolve().parent.parent / "common"
# ground floor first; a wing may import its own floor and the floors below it
FLOORS = [{"config", "files", "machine"}, {"data", "networks"}, {"runs"}, {"explanations"}, {"study"}]
FLOOR = {wing: level for level, wings in enumerate(FLOORS) for wing in wings}


def wing_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "common" and len(parts) > 1 else None


def imported_modules(path: Path):
    """Every module the file imports (also inside functions), with its line."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from ((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)


def test_every_wing_has_a_floor():
    wings = {p.stem for p in COMMON.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and any(p.glob("*.py")))) and not p.name.startswith("__")}
    assert wings == set(FLOOR), "a new wing of common/ needs its floor in FLOORS"


def test_no_module_imports_a_wing_above_its_own():
    upward = []
    for path in COMMON.rglob("*.py"):
        relative = path.relative_to(COMMON)
        if relative == Path("__init__.py"):
            continue
        own = relative.parts[0].removesuffix(".py")
        for module, line in imported_modules(path):
            wing = wing_of(module)
            if wing in FLOOR and FLOOR[wing] > FLOOR[own]:
                upward.append(f"common/{relative}:{line} imports {module} (floor {FLOOR[wing]} > {FLOOR[own]})")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The test above can fail: an import of the study from a data module is one it reports."""
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from common.study.findings import render\n")
    found = [(wing_of(m), line) for m, line in imported_modules(module)]
    assert found == [("study", 2)] and FLOOR["study"] > FLOOR["data"]


def test_the_design_documents_layout_names_every_module():
    """docs/design.md's layout table has a row for every module of common/ (a new module needs its line there)."""
    table = (COMMON.parent / "docs" / "design.md").read_text().split("## Layout", 1)[1]
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines() if line.startswith("| `")}
    modules = {str(p.relative_to(COMMON.parent)) for p in COMMON.rglob("*.py")
               if p.name != "__init__.py" or p.parent == COMMON}
    assert sorted(modules - rows) == []
