"""A trainer's private data from files, for `gradchain train` (docs/rounds.md, "CLI"):

    X, y, source = load_data("digits.npz")           # or a folder, or a .csv
    X, y = fit_to_spec(X, y, spec, source)           # checked against the model's input size and classes

Supported layouts:

* a `.npz` file with arrays `X` (samples x features) and `y` (labels);
* a folder holding `X.npy` and `y.npy`;
* a `.csv` file, or a folder holding exactly one: comma-separated, one sample per row, the features first
  and the integer label in the last column; a first row that is not all numbers is a header and skipped;
* a folder holding exactly one `.npz` file.

Labels are class indices 0..classes-1 (integers, or floats with no fractional part). Nothing here talks to
the network: the data stays in the process that reads it.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np

from client.errors import GradchainError

LAYOUTS = ("a .npz file with arrays X and y", "a folder with X.npy and y.npy",
           "a .csv file (features then the integer label in the last column; header row optional)",
           "a folder with exactly one .csv or one .npz file")


class DataError(GradchainError, ValueError):
    """The training data cannot be read or does not fit the model; the message says what to change."""


@dataclass(frozen=True)
class DataSource:
    path: str            # the file actually read (for a folder of .npy files: the folder)
    layout: str          # "npz", "npy" or "csv"
    header: bool = False  # csv only: whether a header row was skipped


def load_data(path: str | Path) -> tuple[np.ndarray, np.ndarray, DataSource]:
    """(X, y, source) from a file or folder in one of the LAYOUTS. X is float64 with one row per sample
    (further dimensions kept as stored), y the labels as stored. Raises DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_dir():
        if (path / "X.npy").is_file() or (path / "y.npy").is_file():
            return _load_npy_folder(path)
        for suffix, loader in ((".csv", _load_csv), (".npz", _load_npz)):
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == suffix)
            if len(found) > 1:
                raise DataError(f"{path} holds {len(found)} {suffix} files ({', '.join(p.name for p in found[:4])}"
                                f"{', ...' if len(found) > 4 else ''}): point --data at one of them")
            if found:
                return loader(found[0])
        raise DataError(f"{path} holds no training data I can read; supported: " + "; ".join(LAYOUTS))
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".csv":
        return _load_csv(path)
    raise DataError(f"{path}: unsupported file type {path.suffix or '(none)'}; supported: " + "; ".join(LAYOUTS))


def _features(X, where: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{where}: X must hold numbers, not {X.dtype}")
    if X.ndim < 2:
        raise DataError(f"{where}: X must have one row per sample (2 dimensions or more), got shape {X.shape}")
    return X.astype(np.float64)


def _load_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("X", "y") if k not in archive.files]
            if missing:
                raise DataError(f"{path} has arrays {sorted(archive.files)}, needs 'X' (features) and 'y' (labels)")
            X, y = archive["X"], archive["y"]
    except DataError:
        raise
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is not a readable .npz archive: {e}") from None
    return _features(X, str(path)), np.asarray(y), DataSource(str(path), "npz")


def _load_npy_folder(path: Path):
    arrays = {}
    for name in ("X", "y"):
        file = path / f"{name}.npy"
        if not file.is_file():
            raise DataError(f"{path} has {'y' if name == 'X' else 'X'}.npy but no {name}.npy: both are needed")
        try:
            arrays[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"{file} is not a readable .npy array: {e}") from None
    return _features(arrays["X"], str(path / "X.npy")), np.asarray(arrays["y"]), DataSource(str(path), "npy")


def _numbers(row: list[str]) -> list[float] | None:
    try:
        return [float(cell) for cell in row]
    except ValueError:
        return None


def _load_csv(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path} is not a readable CSV file: {e}") from None
    numbered = [(i + 1, row) for i, row in enumerate(rows) if any(row)]   # blank lines skipped
    if not numbered:
        raise DataError(f"{path} is empty")
    header = _numbers(numbered[0][1]) is None
    if header:
        numbered = numbered[1:]
        if not numbered:
            raise DataError(f"{path} has a header row and no samples")
    width = len(numbered[0][1])
    if width < 2:
        raise DataError(f"{path}: each row needs the features and then the label (at least 2 columns), got {width}")
    values = []
    for line, row in numbered:
        if len(row) != width:
            raise DataError(f"{path} line {line}: {len(row)} columns, the first sample has {width}")
        parsed = _numbers(row)
        if parsed is None:
            bad = next(cell for cell in row if _numbers([cell]) is None)
            raise DataError(f"{path} line {line}: {bad!r} is not a number")
        values.append(parsed)
    table = np.array(values, dtype=np.float64)
    return table[:, :-1], table[:, -1], DataSource(str(path), "csv", header)


def input_size(spec) -> int:
    """Features per sample the model takes: the product of its input shape."""
    return prod(spec.input_shape)


def classes(spec) -> int:
    """The model's number of outputs (classes): out_features of its last Linear layer."""
    from chain.scoring.spec import num_classes
    return num_classes(spec)


def fit_to_spec(X: np.ndarray, y: np.ndarray, spec, source: DataSource | str = "the data") -> tuple[np.ndarray, np.ndarray]:
    """Check (X, y) against the model: as many labels as samples, input_size(spec) features per sample
    (X is reshaped to (samples, *spec.input_shape)), finite values, integer labels in 0..classes-1.
    Returns (X float64, y int64). Raises DataError naming what the model expects."""
    where = source.path if isinstance(source, DataSource) else str(source)
    expected, shape = input_size(spec), tuple(spec.input_shape)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim < 2 or len(X) == 0:
        raise DataError(f"{where}: no samples")
    got = prod(X.shape[1:])
    if got != expected:
        shown = f"input shape {shape}, " if len(shape) > 1 else ""
        raise DataError(f"{where} has {got} features per sample (X shape {X.shape}), but the model takes "
                        f"{shown}{expected} features per sample: expected {expected} feature columns"
                        + (" plus the label column" if isinstance(source, DataSource) and source.layout == "csv"
                           else ""))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where}: y must be one label per sample (1 dimension), got shape {y.shape}")
    if len(y) != len(X):
        raise DataError(f"{where}: {len(X)} samples but {len(y)} labels")
    if not np.all(np.isfinite(X)):
        raise DataError(f"{where}: X holds NaN or infinite values")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise DataError(f"{where}: labels must be class numbers, not {y.dtype}")
    y_float = y.astype(np.float64)
    if not np.all(np.isfinite(y_float)) or np.any(y_float != np.round(y_float)):
        raise DataError(f"{where}: labels must be whole numbers (class indices)")
    labels = y_float.astype(np.int64)
    n_classes = classes(spec)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataError(f"{where}: labels must be classes 0..{n_classes - 1} (the model has {n_classes} outputs), "
                        f"found {int(labels.min())}..{int(labels.max())}")
    return X.reshape((len(X),) + shape), labels


__all__ = ["DataError", "DataSource", "LAYOUTS", "load_data", "fit_to_spec", "input_size", "classes"]
