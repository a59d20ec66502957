"""Checks before a node starts, so an operator's mistake ends in one line naming the file or port and the
fix, instead of a traceback or a CometBFT that starts and then does the wrong thing quietly.

`check_home` runs them in the order an operator would fix them: the home and gradchain.toml, CometBFT's
config.toml, the genesis, the validator's keys, then the ports. `HomeLock` keeps a second node off the
same home (an flock on <home>/node.lock, released by the kernel when the process dies, so never stale).

Two keys are checked because CometBFT does not: without priv_validator_key.json it silently makes a new
validator key (the real validator never signs and a one-validator chain sits at height 0), and a
genesis validator without encryption_key.json would never release its sealed-update key shares.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

import tomlkit

from abci_app.settings import SETTINGS_FILE, NodeSettings, cometbft_home, load_settings

__all__ = ["NodeError", "HomeLock", "check_home", "check_settings", "check_startable", "LOCK_FILE"]

LOCK_FILE = "node.lock"


class NodeError(RuntimeError):
    """A problem the operator can fix; the message says how."""


def check_home(home: Path) -> NodeSettings:
    """Every check, in order; the first failure raises NodeError or SettingsError. Checks that no node
    runs on this home without keeping the lock (run_node takes it with `HomeLock`)."""
    settings = check_settings(home)
    with HomeLock(home):
        pass
    check_startable(home, settings)
    return settings


def check_settings(home: Path) -> NodeSettings:
    """The home exists and its gradchain.toml is valid."""
    home = Path(home)
    if not home.is_dir():
        raise NodeError(f"no node home at {home}: create one with `gradchain --home {home} init`, "
                        "or point --home ($GRADCHAIN_HOME) at an existing one")
    return load_settings(home)


def check_startable(home: Path, settings: NodeSettings) -> None:
    """CometBFT's config.toml, the genesis, the validator's keys and the ports."""
    home = Path(home)
    config_path, config = read_config(home)
    _check_genesis(home, config_path, config)
    _check_keys(home, config_path, config)
    _check_ports(home, config_path, config, settings)


def read_config(home: Path) -> tuple[Path, dict]:
    path = cometbft_home(home) / "config" / "config.toml"
    if not path.is_file():
        raise NodeError(f"{path} not found: this home has no CometBFT config; restore it from a backup "
                        "or create a new home with `gradchain init`")
    try:
        return path, tomlkit.parse(path.read_text()).unwrap()
    except Exception as e:
        raise NodeError(f"{path} is not valid TOML ({_one_line(e)}): fix that line and start again") from None


def _cometbft_file(home: Path, config: dict, key: str, default: str) -> Path:
    value = Path(config.get(key) or default)
    return value if value.is_absolute() else cometbft_home(home) / value


def _check_genesis(home: Path, config_path: Path, config: dict) -> None:
    path = _cometbft_file(home, config, "genesis_file", "config/genesis.json")
    if not path.is_file():
        raise NodeError(f"{path} not found: copy the chain's genesis.json there (from the network's operators), "
                        f"or fix genesis_file in {config_path}")
    try:
        genesis = json.loads(path.read_text())
        if not isinstance(genesis, dict) or not genesis.get("chain_id"):
            raise ValueError("no chain_id")
    except (OSError, ValueError) as e:
        raise NodeError(f"{path} is not a genesis file ({_one_line(e)}): copy the chain's genesis.json there") from None


def _check_keys(home: Path, config_path: Path, config: dict) -> None:
    from abci_app import node_key
    path = _cometbft_file(home, config, "priv_validator_key_file", "config/priv_validator_key.json")
    if not path.is_file():
        raise NodeError(f"{path} not found: CometBFT would make a new validator key and this node would never sign "
                        f"(the chain stays at height 0 if it is the only validator); restore the file from your backup")
    if node_key.key_path(home).exists():
        return
    try:
        key = json.loads(path.read_text())["pub_key"]["value"]
        genesis = json.loads(_cometbft_file(home, config, "genesis_file", "config/genesis.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise NodeError(f"cannot read {path} ({_one_line(e)}): restore it from your backup") from None
    validators = ((genesis.get("app_state") or {}).get("validators") or {}).get("validators") or []
    if any(v.get("consensus_pubkey") == key for v in validators):
        raise NodeError(f"{node_key.key_path(home)} not found, and this node is a genesis validator: it would never "
                        "release its sealed-update key shares; restore the file from your backup")


# (what, config.toml key) for CometBFT's listeners. Not the metrics ports: a busy one costs a dashboard,
# not the validator's blocks, so the app and CometBFT log it and run on (docs/operations.md, "Ports").
_PORTS = (
    ("RPC", "rpc.laddr"),
    ("P2P", "p2p.laddr"),
)


def _check_ports(home: Path, config_path: Path, config: dict, settings: NodeSettings) -> None:
    settings_path = Path(home) / SETTINGS_FILE
    wanted = [("ABCI", settings.abci_host, settings.abci_port,
               f"abci_port in {settings_path} (and proxy_app in {config_path} to match)")]
    for what, dotted in _PORTS:
        section, key = dotted.split(".")
        host, port = _host_port((config.get(section) or {}).get(key, ""), config_path, dotted)
        if port:
            wanted.append((what, host, port, f"{dotted} in {config_path}"))
    for what, host, port, setting in wanted:
        if not _can_listen(host, port):
            raise NodeError(f"{what} port {port} is already in use (another node, or another program, listens on "
                            f"{host or '0.0.0.0'}:{port}): stop it, or change {setting}")


def _host_port(address: str, config_path: Path, dotted: str) -> tuple[str, int]:
    """'tcp://127.0.0.1:26657' or ':26660' -> (host, port); a unix socket or '' -> ('', 0), not checked."""
    if not address or address.startswith("unix://"):
        return "", 0
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise NodeError(f"{dotted} in {config_path} is {address!r}, not tcp://HOST:PORT") from None


def _can_listen(host: str, port: int) -> bool:
    # SO_REUSEADDR as CometBFT (Go) and asyncio set it: a port with only TIME_WAIT connections left by a
    # node that just stopped is free for them, and must be for this check too
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
            return True
        except OSError:
            return False


class HomeLock:
    """An exclusive flock on <home>/node.lock holding the running node's pid; a second node on the same
    home is refused with that pid. The kernel drops the lock when the process ends, however it ends."""

    def __init__(self, home: Path):
        self.path = Path(home) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> "HomeLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise NodeError(f"a node is already running on {self.path.parent} (pid {pid}, lock {self.path}): stop it "
                            "first, or use another --home") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # the lock, not the file, says a node runs; an empty file is harmless
            os.close(self._fd)
            self._fd = None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())
