"""Node homes and node processes: `init_node` prepares a home, `run_node` runs the app and CometBFT.

The app's ABCI server starts first and CometBFT second, as CometBFT's child: CometBFT dials the app at
start-up and gives up if nobody answers. On SIGINT/SIGTERM CometBFT stops first (it may still call the
app while it shuts down), then the server, then the database.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import tomlkit

from abci_app.preflight import HomeLock, NodeError, check_home, check_settings, check_startable
from abci_app.settings import (ABCI_TRANSPORTS, NodeSettings, Ports, SettingsError, app_log_path, cometbft_home,
                               cometbft_log_path, db_path, is_loopback, load_settings, save_settings,
                               snapshots_path)

__all__ = ["COMETBFT_VERSION", "NodeError", "find_cometbft", "init_node", "run_node", "read_genesis",
           "write_genesis", "node_id", "set_persistent_peers", "set_state_sync", "configure_logging", "check_new_home",
           "check_home", "installed_cometbft"]

COMETBFT_VERSION = "0.38.25"
_REPO = Path(__file__).resolve().parent.parent
_STOP_TIMEOUT_S = 10
log = logging.getLogger("gradchain.node")


# --- the cometbft binary -------------------------------------------------------------------------
def _candidates() -> list[Path]:
    found = [Path(p) for p in (os.environ.get("GRADCHAIN_COMETBFT"), shutil.which("cometbft")) if p]
    go_bins = [os.environ.get("GOBIN"), *(Path(p) / "bin" for p in os.environ.get("GOPATH", "").split(":") if p)]
    found += [_REPO / ".bin" / "cometbft", *(Path(d) / "cometbft" for d in go_bins if d),
              Path.home() / "go" / "bin" / "cometbft"]
    return list(dict.fromkeys(p for p in found if p.is_file()))


def find_cometbft() -> Path:
    """The first cometbft binary that reports the pinned version (env GRADCHAIN_COMETBFT, PATH, .bin, ~/go/bin)."""
    wrong = []
    for path in _candidates():
        try:
            version = subprocess.run([str(path), "version"], capture_output=True, text=True,
                                     timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            wrong.append(f"{path} (cannot run: {e})")
            continue
        if version == COMETBFT_VERSION:
            return path
        wrong.append(f"{path} (version {version or '?'})")
    found = f" Found only: {', '.join(wrong)}." if wrong else ""
    raise NodeError(f"cometbft {COMETBFT_VERSION} not found.{found} Run scripts/setup.sh to install it.")


def installed_cometbft() -> tuple[Path, str] | None:
    """(path, version) of the cometbft binary `start` would use, else of the first one found; None if none."""
    first = None
    for path in _candidates():
        try:
            version = subprocess.run([str(path), "version"], capture_output=True, text=True,
                                     timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version == COMETBFT_VERSION:
            return path, version
        first = first or (path, version or "?")
    return first


# --- node home -----------------------------------------------------------------------------------
def init_node(home: Path, moniker: str, chain_id: str, app_state: dict, *, ports: Ports = Ports(),
              timeout_commit: str = "1s", create_empty_blocks: bool = True, prometheus: bool = False,
              log_level: str = "info", abci: str = "socket") -> NodeSettings:
    """Create a node home: CometBFT keys, config and genesis, plus gradchain.toml. Refuses to overwrite.

    abci is the transport between CometBFT and the app, "socket" or "grpc" (written to both configs).

    prometheus=True turns on both metrics endpoints: CometBFT's on ports.prometheus and the app's on
    ports.metrics (both loopback only). Off by default so tests on random ports need no extra ones."""
    home = Path(home)
    if not chain_id or len(chain_id) > 50:
        raise NodeError(f"chain id must be 1 to 50 characters (CometBFT's limit), got {chain_id!r}")
    if not isinstance(app_state, dict):
        raise NodeError(f"genesis app_state must be a JSON object, got {type(app_state).__name__}")
    _check_transport(abci)
    check_new_home(home)
    cometbft = find_cometbft()
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([str(cometbft), "init", "--home", str(cometbft_home(home))],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise NodeError(f"`cometbft init` failed:\n{done.stderr or done.stdout}")

    genesis = read_genesis(home)
    genesis.update(chain_id=chain_id, app_state=app_state)
    # Validators release sealed-update key shares in vote extensions (chain/rounds/release.py).
    genesis["consensus_params"]["abci"]["vote_extensions_enable_height"] = "1"
    write_genesis(home, genesis)

    config_path = cometbft_home(home) / "config" / "config.toml"
    config = tomlkit.parse(config_path.read_text())
    _set(config, "moniker", moniker)
    _set(config, "proxy_app", proxy_app_address(abci, "127.0.0.1", ports.abci))
    _set(config, "abci", abci)
    _set(config, "rpc.laddr", f"tcp://127.0.0.1:{ports.rpc}")
    _set(config, "p2p.laddr", f"tcp://127.0.0.1:{ports.p2p}")
    # Several nodes share 127.0.0.1 in a local testnet; CometBFT refuses that by default.
    _set(config, "p2p.addr_book_strict", False)
    _set(config, "p2p.allow_duplicate_ip", True)
    # A 1 MiB tx (the chain's max_tx_bytes; also CometBFT's mempool default) travels base64-encoded in
    # JSON: the RPC's default 1,000,000-byte body limit would refuse it.
    _set(config, "rpc.max_body_bytes", 3_000_000)
    _set(config, "consensus.timeout_commit", timeout_commit)
    _set(config, "consensus.create_empty_blocks", create_empty_blocks)
    _set(config, "instrumentation.prometheus", prometheus)
    _set(config, "instrumentation.prometheus_listen_addr", f"127.0.0.1:{ports.prometheus}")
    config_path.write_text(tomlkit.dumps(config))

    settings = NodeSettings(abci_host="127.0.0.1", abci_port=ports.abci, log_level=log_level,
                            metrics_port=ports.metrics if prometheus else 0, abci=abci)
    save_settings(home, settings)
    return settings


def proxy_app_address(abci: str, host: str, port: int) -> str:
    """CometBFT's proxy_app for the app at host:port. The gRPC client of CometBFT v0.38 dials with
    grpc.NewClient, whose resolver cannot parse a `tcp://` target ("too many colons in address"): it
    needs a bare host:port (CometBFT's own dialer then defaults to TCP)."""
    return f"{host}:{port}" if abci == "grpc" else f"tcp://{host}:{port}"


def _check_transport(abci: str) -> None:
    if abci not in ABCI_TRANSPORTS:
        raise NodeError(f"the ABCI transport must be one of {', '.join(ABCI_TRANSPORTS)}, not {abci!r}")


def check_new_home(home: Path) -> None:
    """Refuse to `init` over an existing node home (a keyring alone is fine: `keys add` makes one)."""
    home = Path(home)
    if home.exists() and not home.is_dir():
        raise NodeError(f"{home} is a file, not a folder: choose another --home")
    if (home / "gradchain.toml").exists() or (cometbft_home(home) / "config").exists():
        raise NodeError(f"{home} is already a node home: start it with `gradchain --home {home} start`, "
                        "or choose another --home (or remove that folder to start over)")


def _set(doc, dotted: str, value) -> None:
    # Only edit keys CometBFT already wrote: a renamed key in a new CometBFT must fail here, not be ignored.
    *tables, key = dotted.split(".")
    for name in tables:
        doc = doc[name]
    if key not in doc:
        raise NodeError(f"config.toml has no {dotted!r}; is this CometBFT {COMETBFT_VERSION}?")
    doc[key] = value


def set_state_sync(home: Path, rpc_servers: list[str], trust_height: int, trust_hash: str,
                   trust_period: str = "168h0m0s", discovery_time: str = "5s") -> None:
    """Turn on CometBFT's state sync for a node that has not started yet: it restores a peer's snapshot
    (abci_app/snapshots.py), whose app hash CometBFT's light client verifies from the trusted height and
    header hash (got out of band, from an RPC the operator trusts), through `rpc_servers` (at least two)."""
    if len(rpc_servers) < 2:
        raise NodeError("state sync needs at least two RPC servers (CometBFT cross-checks light blocks)")
    if trust_height <= 0 or len(bytes.fromhex(trust_hash)) != 32:
        raise NodeError("state sync needs a trust height > 0 and its 32-byte header hash in hex")
    config_path = cometbft_home(home) / "config" / "config.toml"
    config = tomlkit.parse(config_path.read_text())
    _set(config, "statesync.enable", True)
    _set(config, "statesync.rpc_servers", ",".join(rpc_servers))
    _set(config, "statesync.trust_height", trust_height)
    _set(config, "statesync.trust_hash", trust_hash.upper())
    _set(config, "statesync.trust_period", trust_period)
    _set(config, "statesync.discovery_time", discovery_time)
    config_path.write_text(tomlkit.dumps(config))


def read_genesis(home: Path) -> dict:
    return json.loads((cometbft_home(home) / "config" / "genesis.json").read_text())


def write_genesis(home: Path, genesis: dict) -> None:
    (cometbft_home(home) / "config" / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")


def node_id(home: Path) -> str:
    """CometBFT node id (hex of the node key's address), as used in `id@host:port` peer strings."""
    done = subprocess.run([str(find_cometbft()), "show-node-id", "--home", str(cometbft_home(home))],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def set_persistent_peers(home: Path, peers: list[str]) -> None:
    """peers: `node_id@127.0.0.1:p2p_port` strings."""
    config_path = cometbft_home(home) / "config" / "config.toml"
    config = tomlkit.parse(config_path.read_text())
    _set(config, "p2p.persistent_peers", ",".join(peers))
    config_path.write_text(tomlkit.dumps(config))


# --- logging -------------------------------------------------------------------------------------
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line; `extra={...}` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(home: Path, level: str = "info") -> None:
    """Send the `gradchain` loggers to <home>/app.log and stderr as JSON lines. Safe to call twice."""
    root = logging.getLogger("gradchain")
    for handler in [h for h in root.handlers if getattr(h, "_gradchain", False)]:
        root.removeHandler(handler)
        handler.close()
    formatter = JsonLinesFormatter()
    for handler in (logging.FileHandler(app_log_path(home)), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        handler._gradchain = True
        root.addHandler(handler)
    root.setLevel(level.upper())


# --- running -------------------------------------------------------------------------------------
def run_node(home: Path, password: str | None = None, abci: str | None = None) -> int:
    """Run the app and CometBFT until a signal (exit code 0) or a failure of either (non-zero). `password`
    unlocks encryption_key.json when neither $GRADCHAIN_NODE_PASSWORD nor the settings name one. `abci`
    ("socket" or "grpc") overrides the settings' transport for this run; CometBFT gets it as `--abci`.

    Raises NodeError / SettingsError for set-up problems found before anything starts (abci_app/preflight.py),
    among them a node already running on this home: the home stays locked while this one runs.
    """
    home = Path(home)
    settings = check_settings(home)  # first, so a missing home is not reported as a lock problem
    if abci is not None:
        _check_transport(abci)
        settings = dataclasses.replace(settings, abci=abci)
    if settings.abci == "grpc" and not is_loopback(settings.abci_host):
        raise NodeError(f"the ABCI gRPC server listens on loopback only, not abci_host {settings.abci_host!r}; "
                        "set abci_host in gradchain.toml to 127.0.0.1")
    with HomeLock(home):
        check_startable(home, settings)
        cometbft = find_cometbft()
        encryption_key = _encryption_private_key(home, settings, password)
        configure_logging(home, settings.log_level)
        return asyncio.run(_run(home, settings, cometbft, encryption_key))


def _open_application(home: Path, settings: NodeSettings):
    # Imported here so this module (and `init`) loads without the state machine or plyvel.
    from abci_app.leveldb import LevelDBKV
    from chain.app import Application
    from chain.store.state import StoreLayoutError

    path = db_path(home, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        kv = LevelDBKV(str(path))
    except Exception as e:  # plyvel.IOError when another process holds the LOCK
        raise NodeError(f"cannot open the state database {path}: {e}. Is another node running on this home?") from None
    try:
        return Application(kv, query_retention=settings.query_retention_blocks), kv
    except StoreLayoutError as e:
        kv.close()
        raise NodeError(f"{path}: {e}") from None
    except BaseException:
        kv.close()
        raise


def needs_password(home: Path) -> bool:
    """True if the node has an encryption key and neither the environment nor its settings unlock it."""
    from abci_app import node_key
    settings = load_settings(home)
    return node_key.key_path(home).exists() and node_key.password_from(
        home, settings.encryption_key_password_file) is None


def _encryption_private_key(home: Path, settings: NodeSettings, password: str | None) -> bytes | None:
    """The node's X25519 private key, unlocked; None for a node that holds no shares."""
    from abci_app import node_key
    if not node_key.key_path(home).exists():
        return None
    try:
        password = node_key.password_from(home, settings.encryption_key_password_file) or password
        if password is None:
            raise NodeError(f"{node_key.key_path(home)} is encrypted: set {node_key.PASSWORD_ENV}, or name an "
                            "owner-only password file as encryption_key_password_file in gradchain.toml")
        return node_key.unlock(home, password)
    except node_key.NodeKeyError as e:
        raise NodeError(str(e)) from None


async def _run(home: Path, settings: NodeSettings, cometbft: Path, encryption_key: bytes | None) -> int:
    if settings.abci == "grpc":
        from abci_app.grpc_server import GrpcAbciServer as Server
    else:
        from abci_app.server import AbciServer as Server

    chain_id = read_genesis(home)["chain_id"]
    app, kv = _open_application(home, settings)
    from abci_app.snapshots import SnapshotStore
    snapshots = SnapshotStore(snapshots_path(home, settings), settings.snapshot_interval,
                              settings.snapshot_keep_recent, settings.snapshot_chunk_bytes)
    server = Server(app, chain_id, settings.abci_host, settings.abci_port, encryption_key=encryption_key,
                    snapshots=snapshots)
    try:
        await server.start()
    except OSError as e:
        kv.close()
        log.error("cannot listen for CometBFT", extra={"address": server.address, "error": str(e)})
        return 1
    _serve_metrics(server.metrics, settings.metrics_port)
    serving = asyncio.create_task(server.serve())

    cometbft_log = cometbft_log_path(home)
    with open(cometbft_log, "ab") as out:
        proc = await asyncio.create_subprocess_exec(
            str(cometbft), "start", "--home", str(cometbft_home(home)),
            # the transport and its address as this run uses them, whatever config.toml says
            "--abci", settings.abci, "--proxy_app",
            proxy_app_address(settings.abci, settings.abci_host, settings.abci_port), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us only; we stop CometBFT in order
            preexec_fn=_die_with_parent)
    log.info("node started", extra={"chain_id": chain_id, "cometbft_pid": proc.pid,
                                    "cometbft_log": str(cometbft_log), "abci": server.address,
                                    "transport": settings.abci})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waits = {asyncio.create_task(stop.wait()): "signal", asyncio.create_task(proc.wait()): "cometbft",
             serving: "app"}
    done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    reason = waits[next(iter(done))] if len(done) == 1 else "app" if serving in done else "cometbft"

    code = 0
    if reason == "cometbft":
        code = 1
        log.error(f"cometbft exited on its own with code {proc.returncode}; see {cometbft_log}",
                  extra={"tail": _tail(cometbft_log)})
    else:
        await _stop_process(proc)
    if reason == "app":
        code = 1
        log.error(f"the application failed; see {app_log_path(home)}. cometbft is stopped")
    server.stop()
    try:
        await serving
    except Exception:
        code = 1  # AppCrashed: already logged by the server
    for task in waits:
        task.cancel()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    server.metrics.stop()
    kv.close()
    log.info("node stopped", extra={"exit_code": code})
    return code


def _serve_metrics(metrics, port: int) -> None:
    # A busy metrics port costs the operator a dashboard, not the validator its blocks: log and go on.
    if not port:
        return
    try:
        metrics.serve(port)
        log.info("metrics listening", extra={"address": f"http://127.0.0.1:{port}/metrics"})
    except OSError as e:
        log.error("cannot serve metrics; the node runs without them",
                  extra={"address": f"127.0.0.1:{port}", "error": str(e)})


async def _stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), _STOP_TIMEOUT_S)
    except asyncio.TimeoutError:
        log.warning(f"cometbft did not stop within {_STOP_TIMEOUT_S}s; killing it")
        proc.kill()
        await proc.wait()


def _die_with_parent() -> None:
    # If this process is killed outright (SIGKILL), CometBFT must not keep running without its app.
    if sys.platform == "linux":
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int = 10) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m abci_app.node", description="Run a gradchain node.")
    parser.add_argument("--home", type=Path, required=True, help="node home made by init_node")
    parser.add_argument("--abci", choices=ABCI_TRANSPORTS, help="ABCI transport (default: gradchain.toml's abci)")
    args = parser.parse_args()
    try:
        sys.exit(run_node(args.home, abci=args.abci))
    except (NodeError, SettingsError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
