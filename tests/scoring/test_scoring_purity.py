"""chain/scoring is consensus code: no clock, randomness, environment, threads, logging or torch."""
import ast
from pathlib import Path

SCORING = Path(__file__).resolve().parents[2] / "chain" / "scoring"
FORBIDDEN = {"time", "datetime", "random", "secrets", "os", "threading", "multiprocessing", "concurrent",
             "logging", "torch", "pickle", "subprocess", "socket"}
# The only module that may import torch, and only kernel._blas("torch") imports it, lazily.
OPTIONAL_BACKENDS = {"torch_backend.py"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_forbidden_imports():
    for path in sorted(SCORING.glob("*.py")):
        bad = imported_roots(path) & (FORBIDDEN - ({"torch"} if path.name in OPTIONAL_BACKENDS else set()))
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_floats_appear_only_in_the_matmul_and_backend():
    for path in sorted(SCORING.glob("*.py")):
        if path.name in {"matmul.py"} | OPTIONAL_BACKENDS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), f"{path.name}: float literal"
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
            assert "float" not in name.lower() or name == "PATH_FLOAT64", f"{path.name} uses {name}"
