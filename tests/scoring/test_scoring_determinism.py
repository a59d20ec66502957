"""The same scores and logits, bit for bit, in processes with different BLAS kernels, thread counts,
hash seeds and backends (numpy float64 BLAS vs torch float64 and int8 GEMM)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from chain.scoring.kernel import forward, metrics
from chain.scoring.spec import FixedPoint, Layer, ModelSpec

def model(sizes, weight_max, seed):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [Layer(1, a, b)] + ([Layer(2)] if i < len(sizes) - 2 else [])
    spec = ModelSpec(version=1, input_shape=(sizes[0],), layers=tuple(layers), input_format=FixedPoint(16, 24),
                     weight_format=FixedPoint(16, 32), activation_format=FixedPoint(16, 32), bias_bits=48, loss=2)
    rng = np.random.default_rng(seed)
    weights = []
    for a, b in zip(sizes, sizes[1:]):
        weights += [rng.integers(-weight_max, weight_max + 1, (b, a)), rng.integers(-(1 << 20), 1 << 20, b)]
    inputs = rng.integers(-(1 << 20), 1 << 20, (1500, sizes[0]))
    labels = rng.integers(0, sizes[-1], 1500)
    return spec, weights, inputs, labels

cases = {
    "mlp-float64": model([256, 512, 512, 10], 1 << 13, 1),     # every product inside the float64 bound
    "mlp-limbs": model([64, 96, 10], (1 << 31) - 1, 2),        # 31-bit weights: past it, exact limb paths
}
backends = ["numpy"]
try:
    import torch  # noqa: F401
    backends.append("torch")
except ImportError:
    pass
out = {}
for name, (spec, weights, inputs, labels) in cases.items():
    for backend in backends:
        fw = forward(spec, weights, inputs, backend=backend)
        s = metrics(spec, fw.logits, labels)
        out[f"{name}/{backend}"] = {"score": [s.correct, s.total, s.loss], "paths": list(fw.paths),
                                    "logits_sha256": hashlib.sha256(fw.logits.astype("<i8").tobytes()).hexdigest()}
x = np.random.default_rng(5).standard_normal((700, 700)).astype(np.float32)
out["float32_matmul_sha256"] = hashlib.sha256((x @ x).tobytes()).hexdigest()  # reported, not asserted
print(json.dumps(out, sort_keys=True))
"""

ENVIRONMENTS = [
    {"PYTHONHASHSEED": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
     "OPENBLAS_CORETYPE": "Haswell"},
    {"PYTHONHASHSEED": "4242", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
     "OPENBLAS_CORETYPE": "SkylakeX"},
    {"PYTHONHASHSEED": "77", "OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "3", "MKL_NUM_THREADS": "3",
     "OPENBLAS_CORETYPE": "Sandybridge"},
]


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def run(overrides: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONHASHSEED", "OPENBLAS_CORETYPE") and not k.endswith("_NUM_THREADS")}
    env.update(overrides, OPENBLAS_VERBOSE="2")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    core = overrides["OPENBLAS_CORETYPE"]
    assert f"Core: {core}" in proc.stdout + proc.stderr, "OpenBLAS did not take the requested core type"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_scores_are_bit_identical_across_processes_blas_kernels_and_backends():
    envs = [e for e in ENVIRONMENTS if e["OPENBLAS_CORETYPE"] != "SkylakeX" or "avx512f" in cpu_flags()]
    results = [run(e) for e in envs]
    float32 = {r.pop("float32_matmul_sha256") for r in results}
    first = results[0]
    assert first["mlp-float64/numpy"]["paths"] == ["float64", "float64", "float64"]
    assert first["mlp-limbs/numpy"]["paths"][0].startswith("limbs")
    for r in results[1:]:
        assert r == first
    for case in ("mlp-float64", "mlp-limbs"):
        if f"{case}/torch" in first:  # the paths may differ (torch has the int8 GEMM), never the bits
            torch_run, numpy_run = dict(first[f"{case}/torch"]), dict(first[f"{case}/numpy"])
            torch_run.pop("paths"), numpy_run.pop("paths")
            assert torch_run == numpy_run
    print(f"float32 matmul gave {len(float32)} distinct hash(es) across {len(envs)} environments")


def test_torch_backend_matches_numpy_in_process():
    torch = pytest.importorskip("torch")
    import numpy as np

    from chain.scoring.kernel import forward
    from chain.scoring.spec import FixedPoint, Layer, ModelSpec
    spec = ModelSpec(version=1, input_shape=(32,), layers=(Layer(1, 32, 16), Layer(2), Layer(1, 16, 4)),
                     input_format=FixedPoint(16, 24), weight_format=FixedPoint(16, 32),
                     activation_format=FixedPoint(16, 32), bias_bits=48, loss=1)
    rng = np.random.default_rng(9)
    for bits in (16, 31):
        weights = [rng.integers(-(1 << bits), 1 << bits, (16, 32)), rng.integers(-99, 99, 16),
                   rng.integers(-(1 << bits), 1 << bits, (4, 16)), rng.integers(-99, 99, 4)]
        inputs = rng.integers(-(1 << 20), 1 << 20, (50, 32))
        for threads in (1, 2):
            torch.set_num_threads(threads)
            a = forward(spec, weights, inputs, backend="numpy")
            b = forward(spec, weights, inputs, backend="torch")
            assert np.array_equal(a.logits, b.logits)
