"""Each testnet node in its own network namespace, behind a real (virtual) link, for the perturbation tests.

    with NetnsTestnet(root, 4, "netem-1", operators, faucet) as net:
        net.partition([0, 1], [2, 3]); ...; net.heal()
        net.pause(2); ...; net.resume(2)

Topology: namespace i holds node i (its CometBFT and its app) with one veth link to the root namespace,
10.S.i.2 on the node's side and 10.S.i.1 on the root's. The root namespace routes between the links
(ip_forward), so every node-to-node packet crosses two veth links and the root's forwarding path, and the
test process (in the root namespace) reaches each node's RPC at 10.S.i.2. Everything here is made and
removed by the harness itself with iproute2; nothing listens outside this machine's private links.

Partitions are policy-routing rules in the root namespace (`ip rule ... prohibit` from one side's links to
the other's): forwarded packets between the sides are refused, while the test process still reaches
every node. Latency, jitter and loss: this kernel has no `sch_netem` (`tc qdisc add ... netem` answers
"Specified qdisc kind is unknown"), so `links=` routes every peer connection through a user-space
relay (tests/linkproxy.py) in the root namespace that delays each segment and, for "loss", holds a
segment back for one TCP retransmission timeout, which is what a lost packet costs a TCP stream.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import tomlkit

from abci_app.settings import cometbft_home
from abci_app.testnet import init_testnet, load_manifest, stop_node
from linkproxy import LinkProxy
from nodeutil import ROOT

_REPO = ROOT
_SERIAL = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_available() -> str | None:
    """None if this machine can make namespaces and veth links, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"gcprobe{os.getpid()}"
    done = _ip("netns", "add", probe, check=False)
    if done.returncode:
        return f"ip netns add failed: {done.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


class Links:
    """Namespaces and veth links for `count` nodes; routing and partitions in the root namespace."""

    def __init__(self, count: int):
        serial = next(_SERIAL)                       # several testnets may be up at once in one process
        self.tag = f"{os.getpid() % 10000}{serial}"
        self.subnet = 100 + (os.getpid() + 7 * serial) % 150  # 10.S.i.0/24, distinct per live testnet
        self.count = count
        self.names = [f"gc{self.tag}n{i}" for i in range(count)]
        self.rules: list[list[str]] = []
        self._forward = None

    def node_ip(self, i: int) -> str:
        return f"10.{self.subnet}.{i}.2"

    def root_ip(self, i: int) -> str:
        return f"10.{self.subnet}.{i}.1"

    def up(self) -> None:
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        self._forward = forward.read_text().strip()
        forward.write_text("1")
        for i, ns in enumerate(self.names):
            outer, inner = f"gc{self.tag}v{i}", f"gc{self.tag}w{i}"
            _ip("netns", "add", ns)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", ns)
            _ip("addr", "add", f"{self.root_ip(i)}/24", "dev", outer)
            _ip("link", "set", outer, "up")
            _ip("-n", ns, "addr", "add", f"{self.node_ip(i)}/24", "dev", inner)
            _ip("-n", ns, "link", "set", inner, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "default", "via", self.root_ip(i))

    def down(self) -> None:
        self.heal()
        for ns in self.names:
            _ip("netns", "del", ns, check=False)     # takes its veth pair with it
        if self._forward is not None:
            Path("/proc/sys/net/ipv4/ip_forward").write_text(self._forward)

    def partition(self, *sides: list[int]) -> None:
        """Refuse every forwarded packet between nodes on different sides (both directions)."""
        for a, side in enumerate(sides):
            for other in sides[a + 1:]:
                for i in side:
                    for j in other:
                        for src, dst in ((i, j), (j, i)):
                            rule = ["rule", "add", "from", f"10.{self.subnet}.{src}.0/24",
                                    "to", f"10.{self.subnet}.{dst}.0/24", "prohibit", "priority", "100"]
                            _ip(*rule)
                            self.rules.append(rule)

    def heal(self) -> None:
        for rule in self.rules:
            _ip("rule", "del", *rule[2:], check=False)
        self.rules = []

    def exec_prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.names[i]]


class NetnsTestnet:
    """A local testnet (abci_app.testnet) whose nodes run in their own namespaces. With `links`
    (delay_ms, jitter_ms, loss), every peer connection goes through a relay with those properties."""

    def __init__(self, root: Path, validators: int, chain_id: str, operators, faucet, *, preset: dict | None = None,
                 timeout_commit: str = "500ms", links: tuple[int, int, float] | None = None, seed: int = 1):
        self.root, self.validators, self.chain_id = Path(root), validators, chain_id
        self.operators, self.faucet, self.links_spec, self.seed = operators, faucet, links, seed
        self.preset = preset or tomllib.loads((ROOT / "config/local.toml").read_text())
        self.timeout_commit = timeout_commit
        self.net = Links(validators)
        self.proxies: list[LinkProxy] = []
        self._relayed: dict[int, str] = {}
        self.homes: list[Path] = []
        self.urls: list[str] = []
        self.stopped: set[int] = set()

    # --- set-up -------------------------------------------------------------------------------
    def __enter__(self) -> "NetnsTestnet":
        manifest = init_testnet(self.root, self.validators, self.chain_id, self.preset,
                                [w.address_bytes for w in self.operators], self.faucet.address_bytes,
                                port_base=27000, timeout_commit=self.timeout_commit)
        self.nodes = manifest["nodes"]
        self.homes = [Path(n["home"]) for n in self.nodes]
        self.urls = [f"http://{self.net.node_ip(i)}:{n['rpc']}" for i, n in enumerate(self.nodes)]
        try:
            self.net.up()
            self._configure()
            for i in range(self.validators):
                self.start(i)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _configure(self) -> None:
        """Each node listens on its own link; its peers are reached directly or through a relay."""
        from abci_app.node import node_id
        ids = [node_id(h) for h in self.homes]
        for i, (home, node) in enumerate(zip(self.homes, self.nodes)):
            peers = []
            for j, other in enumerate(self.nodes):
                if j != i:
                    peers.append(f"{ids[j]}@{self._peer_address(j, other['p2p'])}")
            path = cometbft_home(home) / "config" / "config.toml"
            config = tomlkit.parse(path.read_text())
            config["rpc"]["laddr"] = f"tcp://{self.net.node_ip(i)}:{node['rpc']}"
            config["p2p"]["laddr"] = f"tcp://{self.net.node_ip(i)}:{node['p2p']}"
            config["p2p"]["persistent_peers"] = ",".join(peers)
            config["p2p"]["pex"] = False              # only the configured links: no direct paths learned
            config["p2p"]["allow_duplicate_ip"] = True  # relayed peers all arrive from root-side addresses
            path.write_text(tomlkit.dumps(config))

    def _peer_address(self, j: int, port: int) -> str:
        """Where peers dial node j: its own address, or one relay in front of it that all its peers share."""
        if self.links_spec is None:
            return f"{self.net.node_ip(j)}:{port}"
        if j in self._relayed:
            return self._relayed[j]
        delay, jitter, loss = self.links_spec
        proxy = LinkProxy((self.net.root_ip(j), port), (self.net.node_ip(j), port), delay_ms=delay,
                          jitter_ms=jitter, loss=loss, seed=self.seed * 1000 + j)
        proxy.start()
        self.proxies.append(proxy)
        self._relayed[j] = f"{self.net.root_ip(j)}:{port}"
        return self._relayed[j]

    def __exit__(self, *exc) -> None:
        for home in self.homes:
            self._resume_pid(home)
            stop_node(home)
        for proxy in self.proxies:
            proxy.stop()
        self.net.down()

    # --- processes ------------------------------------------------------------------------------
    def start(self, i: int) -> int:
        """Node i in its namespace (`ip netns exec` execs, so the pid is the node's own)."""
        home = self.homes[i]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))}
        with open(home / "node.out", "ab") as out:
            proc = subprocess.Popen([*self.net.exec_prefix(i), sys.executable, "-m", "abci_app.node", "--home",
                                     str(home)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=_REPO, start_new_session=True)
        (home / "node.pid").write_text(str(proc.pid))
        self.stopped.discard(i)
        return proc.pid

    def kill9(self, i: int) -> None:
        """SIGKILL node i's app and its CometBFT child at once, no clean shutdown. (The child is named
        explicitly: it would otherwise outlive the app for a while and keep the RPC port.)"""
        pid = int((self.homes[i] / "node.pid").read_text())
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for victim in [pid, *map(int, children)]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        (self.homes[i] / "node.pid").unlink(missing_ok=True)
        self.stopped.add(i)

    def pause(self, i: int) -> None:
        os.killpg(int((self.homes[i] / "node.pid").read_text()), signal.SIGSTOP)

    def resume(self, i: int) -> None:
        self._resume_pid(self.homes[i])

    @staticmethod
    def _resume_pid(home: Path) -> None:
        try:
            os.killpg(int((home / "node.pid").read_text()), signal.SIGCONT)
        except (OSError, ValueError):
            pass

    def partition(self, *sides: list[int]) -> None:
        if self.links_spec is not None:
            raise RuntimeError("partitions cut routed links; this testnet relays its links")
        self.net.partition(*sides)

    def heal(self) -> None:
        self.net.heal()

    def manifest(self) -> dict:
        return load_manifest(self.root)
