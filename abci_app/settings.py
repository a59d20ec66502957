"""Operator settings of one node: where things live and listen. Nothing here is consensus-critical.

A node home looks like:
    <home>/gradchain.toml   these settings
    <home>/cometbft/        CometBFT's own home (config/, data/)
    <home>/data/app.db      the application's LevelDB state
    <home>/app.log          the application's structured log (JSON lines)
    <home>/cometbft.log     CometBFT's output
    <home>/encryption_key.json  the validator's X25519 key, encrypted (abci_app/node_key.py)
"""
from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from pathlib import Path

import tomlkit

SETTINGS_FILE = "gradchain.toml"
LOG_LEVELS = ("debug", "info", "warning", "error")
ABCI_TRANSPORTS = ("socket", "grpc")  # CometBFT's `abci` config key / `--abci` flag


class SettingsError(ValueError):
    """gradchain.toml is missing or wrong; the message says what to fix."""


@dataclass(frozen=True)
class Ports:
    """Loopback ports of one node. `from_base` spaces nodes so several fit on one machine.
    prometheus is CometBFT's own metrics endpoint; metrics is the app's (abci_app/metrics.py)."""
    p2p: int = 26656
    rpc: int = 26657
    abci: int = 26658
    prometheus: int = 26660
    metrics: int = 26661

    @classmethod
    def from_base(cls, base: int) -> "Ports":
        # base + 3 stays free: CometBFT's pprof convention (rpc.pprof_laddr, off by default)
        return cls(p2p=base, rpc=base + 1, abci=base + 2, prometheus=base + 4, metrics=base + 5)


@dataclass(frozen=True)
class NodeSettings:
    abci_host: str = "127.0.0.1"
    abci_port: int = 26658
    data_dir: str = "data"  # relative to the node home unless absolute
    log_level: str = "info"
    # owner-only file with the password of encryption_key.json (abci_app/node_key.py); relative to the home
    # unless absolute. Empty: $GRADCHAIN_NODE_PASSWORD, or the password `gradchain start` asks for.
    encryption_key_password_file: str = ""
    # the app's Prometheus endpoint, always on 127.0.0.1 (abci_app/metrics.py); 0 turns it off
    metrics_port: int = 0
    # how many recent heights stay queryable, with proofs, through `--height` (chain/store/history.py);
    # 0: the latest only. Not consensus: nodes may differ. Costs one stored version per changed key, and
    # the tree nodes of those heights: older ones are pruned (docs/state.md "Tree storage and pruning").
    query_retention_blocks: int = 1000
    # how CometBFT reaches the app at abci_host:abci_port: "socket" (abci_app/server.py) or "grpc"
    # (abci_app/grpc_server.py); `gradchain start --abci` overrides it for one run
    abci: str = "socket"
    # state sync snapshots (abci_app/snapshots.py), under <data_dir>/snapshots/: one every
    # snapshot_interval heights (0: none), the last snapshot_keep_recent kept, chunks of snapshot_chunk_bytes
    snapshot_interval: int = 0
    snapshot_keep_recent: int = 2
    snapshot_chunk_bytes: int = 1 << 20

    @property
    def abci_address(self) -> str:
        return f"tcp://{self.abci_host}:{self.abci_port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cometbft_home(home: Path) -> Path:
    return Path(home) / "cometbft"


def db_path(home: Path, settings: NodeSettings) -> Path:
    return Path(home) / settings.data_dir / "app.db"


def snapshots_path(home: Path, settings: NodeSettings) -> Path:
    return Path(home) / settings.data_dir / "snapshots"


def app_log_path(home: Path) -> Path:
    return Path(home) / "app.log"


def cometbft_log_path(home: Path) -> Path:
    return Path(home) / "cometbft.log"


def save_settings(home: Path, settings: NodeSettings) -> None:
    doc = tomlkit.document()
    doc.add(tomlkit.comment("gradchain operator settings for this node (not consensus-critical)"))
    for key, value in asdict(settings).items():
        doc[key] = value
    (Path(home) / SETTINGS_FILE).write_text(tomlkit.dumps(doc))


def load_settings(home: Path) -> NodeSettings:
    path = Path(home) / SETTINGS_FILE
    if not path.is_file():
        raise SettingsError(f"{path} not found: is {home} a node home? Create one with `gradchain init`.")
    try:
        raw = tomlkit.parse(path.read_text()).unwrap()
    except Exception as e:
        raise SettingsError(f"{path} is not valid TOML ({' '.join(str(e).split())}): fix that line and "
                            "start again") from None
    unknown = set(raw) - set(NodeSettings.__dataclass_fields__)
    if unknown:
        raise SettingsError(f"{path}: unknown settings {sorted(unknown)}; "
                            f"known: {sorted(NodeSettings.__dataclass_fields__)}")
    if not isinstance(raw, dict):
        raise SettingsError(f"{path} must hold key = value settings")
    settings = NodeSettings(**raw)
    if settings.log_level not in LOG_LEVELS:
        raise SettingsError(f"{path}: log_level must be one of {LOG_LEVELS}, not {settings.log_level!r}")
    if not isinstance(settings.abci_port, int) or not 0 < settings.abci_port < 65536:
        raise SettingsError(f"{path}: abci_port must be a port number, not {settings.abci_port!r}")
    if settings.abci not in ABCI_TRANSPORTS:
        raise SettingsError(f"{path}: abci must be one of {ABCI_TRANSPORTS}, not {settings.abci!r}")
    if not isinstance(settings.metrics_port, int) or not 0 <= settings.metrics_port < 65536:
        raise SettingsError(f"{path}: metrics_port must be a port number or 0 (off), not {settings.metrics_port!r}")
    if not isinstance(settings.query_retention_blocks, int) or not 0 <= settings.query_retention_blocks <= 10**7:
        raise SettingsError(f"{path}: query_retention_blocks must be 0..10000000 (heights kept for queries), "
                            f"not {settings.query_retention_blocks!r}")
    if not isinstance(settings.snapshot_interval, int) or not 0 <= settings.snapshot_interval <= 10**9:
        raise SettingsError(f"{path}: snapshot_interval must be 0 (off) or a number of heights, "
                            f"not {settings.snapshot_interval!r}")
    if not isinstance(settings.snapshot_keep_recent, int) or not 1 <= settings.snapshot_keep_recent <= 1000:
        raise SettingsError(f"{path}: snapshot_keep_recent must be 1..1000, not {settings.snapshot_keep_recent!r}")
    if not isinstance(settings.snapshot_chunk_bytes, int) or not 1024 <= settings.snapshot_chunk_bytes <= 8 << 20:
        raise SettingsError(f"{path}: snapshot_chunk_bytes must be 1024..8388608 (CometBFT carries chunks of "
                            f"at most 16 MB), not {settings.snapshot_chunk_bytes!r}")
    return settings
