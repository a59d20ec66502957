"""chain/ is consensus code: no clock, randomness, environment, threads, I/O, logging, pickle, protobuf
runtime or torch, and no floats, except the scoring kernel's float64 matmul under the exactness rule and
the optional torch backend (loaded only on request, same bits as numpy)."""
import ast
from pathlib import Path

CHAIN = Path(__file__).resolve().parents[2] / "chain"
FORBIDDEN = {"time", "datetime", "random", "secrets", "os", "threading", "multiprocessing", "concurrent",
             "logging", "torch", "pickle", "subprocess", "socket", "asyncio", "plyvel", "google"}
FLOAT_ALLOWED = {"scoring/matmul.py", "scoring/torch_backend.py"}
TORCH_ALLOWED = {"scoring/torch_backend.py"}
NUMPY_ALLOWED_UNDER = ("scoring/", "rounds/delta.py", "rounds/candidates.py", "secagg/")  # the scoring kernel, update deltas, candidates, masks


def sources():
    return [(p.relative_to(CHAIN).as_posix(), ast.parse(p.read_text())) for p in sorted(CHAIN.rglob("*.py"))]


def imported_roots(tree) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_forbidden_imports():
    for name, tree in sources():
        bad = imported_roots(tree) & (FORBIDDEN - ({"torch"} if name in TORCH_ALLOWED else set()))
        assert not bad, f"chain/{name} imports {sorted(bad)}"
        if not name.startswith(NUMPY_ALLOWED_UNDER):
            assert "numpy" not in imported_roots(tree), f"chain/{name}: numpy belongs to the scoring kernel only"


def test_no_floats_outside_the_exact_matmul():
    for name, tree in sources():
        if name in FLOAT_ALLOWED:
            continue
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), f"chain/{name}: float literal"
            ident = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
            assert "float" not in ident.lower() or ident == "PATH_FLOAT64", f"chain/{name} uses {ident}"
