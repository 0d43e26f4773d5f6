"""Run the load scenarios against the floor and the CSMS in one go and print the figures.

Each server under test runs as a subprocess on 127.0.0.1 on a free port, with the open-file
limit raised to its hard limit. The CSMS runs as in production (`manage.py serve`, DEBUG
off, the Redis channel layer) against PostgreSQL or SQLite, with the message log on or off.

python benchmarks/run.py --configs floor,pg-log,pg-nolog,sqlite-log,sqlite-nolog \
    --scenarios storm,idle,mix,mix-tx,commands --idle-stations 10000 --storm-stations 5000

See benchmarks/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import loadgen

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

CONFIGS = {
    "floor": {},
    "pg-log": {"db": "postgres", "log": True},
    "pg-nolog": {"db": "postgres", "log": False},
    # One process per core: `serve --workers 2` on one port (SO_REUSEPORT).
    "pg-log-2w": {"db": "postgres", "log": True, "workers": 2},
    "pg-nolog-2w": {"db": "postgres", "log": False, "workers": 2},
    "sqlite-log": {"db": "sqlite", "log": True},
    "sqlite-nolog": {"db": "sqlite", "log": False},
}


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(meminfo[1]) / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
    }


def process_tree(pid: int) -> list[int]:
    """`pid` and its child processes (the workers of `serve --workers`)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            pids.append(int(entry.name))
    return pids


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time of a server (its workers included): a cost per message that a
    busy machine does not distort as much as wall-clock throughput."""
    total = 0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_of(pid: int) -> int:
    """Resident memory of a server, its workers included."""
    total = 0
    for each in process_tree(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS:"))
    return total


class Server:
    def __init__(self, name: str, args: argparse.Namespace, workdir: Path):
        self.name = name
        self.config = CONFIGS[name]
        self.args = args
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.env = dict(os.environ)
        self.proc: subprocess.Popen | None = None
        if self.config:
            self.env.update(
                {
                    "CSMS_DEBUG": "false",
                    "CSMS_SECRET_KEY": secrets.token_urlsafe(40),
                    "CSMS_MESSAGE_LOG": "true" if self.config["log"] else "false",
                    "REDIS_URL": args.redis_url,
                    "CSMS_CHANNEL_PREFIX": args.channel_prefix,
                    "CSMS_LOG_LEVEL": "WARNING",
                }
            )
            if self.config["db"] == "postgres":
                self.env["DATABASE_URL"] = args.database_url
            else:
                self.env.pop("DATABASE_URL", None)
                self.env["CSMS_SQLITE_PATH"] = str(workdir / "bench.sqlite3")

    def command(self) -> list[str]:
        if not self.config:
            return [PYTHON, str(ROOT / "benchmarks" / "floor_server.py"), "--port", str(self.port)]
        return [
            PYTHON,
            str(ROOT / "manage.py"),
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.config.get("workers", 1)),
        ]

    def start(self) -> None:
        if self.config:
            subprocess.run(
                [PYTHON, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                env=self.env,
                cwd=ROOT,
                check=True,
            )
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}") from None
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not listen within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss(self) -> int:
        assert self.proc is not None
        return rss_of(self.proc.pid)

    async def register_tags(self, prefix: str, count: int) -> dict[str, Any]:
        """The CSMS refuses unknown idTags: register the stations' tags (the floor takes any)."""
        if not self.config:
            return {"tags": count, "registered": "not needed"}
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            str(ROOT / "benchmarks" / "tokens.py"),
            "--prefix",
            prefix,
            "--count",
            str(count),
            env=self.env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode:
            raise RuntimeError(f"tokens.py exited with {proc.returncode}")
        return json.loads(out.decode().strip().splitlines()[-1])

    async def trigger(self, identities: list[str]) -> dict[str, Any]:
        """Send the command of scenario (d) to every station in `identities`."""
        if not self.config:
            async with connect(
                f"{self.url}/_control", subprotocols=["ocpp1.6"], open_timeout=10
            ) as ws:
                await ws.send(json.dumps({"action": "GetConfiguration", "payload": {}}))
                result = json.loads(await asyncio.wait_for(ws.recv(), 120))
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
                fh.write("\n".join(identities))
            proc = await asyncio.create_subprocess_exec(
                PYTHON,
                str(ROOT / "benchmarks" / "fanout.py"),
                "--identities-file",
                fh.name,
                "--action",
                "GetConfiguration",
                env=self.env,
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 180)
            os.unlink(fh.name)
            result = json.loads(out.decode().strip().splitlines()[-1])
        latencies = result.pop("latencies")
        result["elapsed"] = round(result["elapsed"], 3)
        result["calls_per_s"] = round(result["completed"] / max(result["elapsed"], 1e-9), 1)
        result.update(loadgen.latency_summary(latencies))
        return result


async def run_config(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = Server(name, args, workdir)
    server.start()
    results: dict[str, Any] = {"command": " ".join(server.command())}
    version = args.ocpp_version
    prefix = f"{args.prefix}{'F' if name == 'floor' else 'C'}"
    try:
        await asyncio.sleep(1)
        results["rss_start_mib"] = round(server.rss() / 2**20, 1)
        for scenario in args.scenarios:
            started = time.perf_counter()
            load_before = round(os.getloadavg()[0], 2)
            cpu_before = cpu_seconds_of(server.proc.pid)
            print(f"[{name}] {scenario} ...", file=sys.stderr, flush=True)
            try:
                if scenario == "storm":
                    # Register the stations first so that the storm is a reconnect storm of
                    # known stations, as after a network outage.
                    await loadgen.storm(server.url, args.storm_stations, version, prefix)
                    await asyncio.sleep(2)
                    result = await loadgen.storm(server.url, args.storm_stations, version, prefix)
                elif scenario == "idle":
                    result = await loadgen.idle(
                        server.url,
                        args.idle_stations,
                        version,
                        prefix,
                        hold=args.hold,
                        rss=server.rss,
                        realistic=args.realistic_seconds,
                    )
                elif scenario == "mix":
                    result = await loadgen.throughput(
                        server.url,
                        args.mix_stations,
                        version,
                        prefix,
                        seconds=args.mix_seconds,
                        mix=parse_mix(args.mix),
                        rate=args.mix_rate,
                    )
                elif scenario == "mix-meter":
                    result = await loadgen.throughput(
                        server.url,
                        args.mix_stations,
                        version,
                        prefix,
                        seconds=args.mix_seconds,
                        mix=parse_mix(args.mix_meter),
                        rate=args.mix_rate,
                    )
                elif scenario == "mix-tx":
                    tags = await server.register_tags(prefix, args.mix_stations)
                    result = await loadgen.transactions_mix(
                        server.url,
                        args.mix_stations,
                        version,
                        prefix,
                        seconds=args.mix_seconds,
                        mix=parse_mix(args.mix_tx),
                        rate=args.mix_rate,
                    )
                    result["tags"] = tags
                elif scenario == "commands":
                    result = await loadgen.commands(
                        server.url, args.command_stations, version, prefix, server.trigger
                    )
                else:
                    raise SystemExit(f"Unknown scenario {scenario!r}")
            except Exception as exc:
                # Keep the figures of the other scenarios; say what failed.
                result = {"error": f"{type(exc).__name__}: {exc}"}
            result["wall_s"] = round(time.perf_counter() - started, 1)
            # The machine is shared: say how busy it was (1-minute load average).
            result["server_cpu_s"] = round(cpu_seconds_of(server.proc.pid) - cpu_before, 2)
            if result.get("answered"):
                # Includes connecting and booting the scenario's stations.
                result["server_cpu_ms_per_msg"] = round(
                    result["server_cpu_s"] * 1000 / result["answered"], 3
                )
            result["load_avg_start"] = load_before
            result["load_avg_end"] = round(os.getloadavg()[0], 2)
            results[scenario] = result
            print(f"[{name}] {scenario}: {json.dumps(result)}", file=sys.stderr, flush=True)
            await asyncio.sleep(3)
        results["rss_end_mib"] = round(server.rss() / 2**20, 1)
    finally:
        server.stop()
    return results


def parse_mix(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (item.split("=") for item in text.split(","))}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "arguments": vars(args),
        "results": {},
    }
    with tempfile.TemporaryDirectory(prefix="csms-bench-") as tmp:
        workdir = Path(args.workdir or tmp)
        rounds = []
        for number in range(args.rounds):
            results: dict[str, Any] = {}
            for name in args.configs:
                if args.rounds > 1:
                    print(f"round {number + 1} of {args.rounds}", file=sys.stderr, flush=True)
                results[name] = await run_config(name, args, workdir)
                await asyncio.sleep(5)  # let TIME_WAIT sockets and the database settle
            rounds.append(results)
        report["results"] = rounds[0]
        if args.rounds > 1:
            # Each round runs every configuration once, the floor first: a ratio to the
            # floor is taken within a round, minutes apart, not across the whole run.
            report["rounds"] = rounds
    return report


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="floor,pg-log,pg-nolog,sqlite-log,sqlite-nolog")
    parser.add_argument("--scenarios", default="storm,idle,mix,mix-meter,commands")
    parser.add_argument("--ocpp-version", default="1.6", choices=["1.6", "2.0.1"])
    parser.add_argument("--prefix", default="BENCH", help="Station identity prefix.")
    parser.add_argument("--storm-stations", type=int, default=5000)
    parser.add_argument("--idle-stations", type=int, default=10000)
    parser.add_argument("--hold", type=float, default=60, help="Seconds idle stations are held.")
    parser.add_argument(
        "--realistic-seconds",
        type=float,
        default=60,
        help="Seconds of the realistic rate (heartbeat 300 s, meter values 60 s) after the hold.",
    )
    parser.add_argument("--mix-stations", type=int, default=100)
    parser.add_argument("--mix-seconds", type=float, default=30)
    parser.add_argument("--mix", default="Heartbeat=1,StatusNotification=1")
    parser.add_argument("--mix-meter", default="Heartbeat=1,StatusNotification=1,MeterValues=1")
    parser.add_argument(
        "--mix-tx",
        default=loadgen.TX_MIX,
        help="mix-tx: messages per charging session besides its start and stop.",
    )
    parser.add_argument("--mix-rate", type=float, default=0, help="0: as fast as answered.")
    parser.add_argument("--command-stations", type=int, default=1000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/csms_bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--channel-prefix", default="csmsbench")
    parser.add_argument("--workdir", default="")
    parser.add_argument("--out", default="", help="Write the JSON report here.")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Run every configuration this many times, in turn; the report gives each "
        "round's ratios to the floor and their median (this machine's speed drifts).",
    )
    args = parser.parse_args()
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    args.configs = [c for c in args.configs.split(",") if c]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for name in args.configs:
        if name not in CONFIGS:
            raise SystemExit(f"Unknown config {name!r}; one of {', '.join(CONFIGS)}")
    loadgen.session_plan(parse_mix(args.mix_tx))  # refuses unknown counts before any server
    if not 1 <= args.rounds <= 10:
        raise SystemExit("--rounds: 1 to 10")
    return args


if __name__ == "__main__":
    raise_nofile()
    arguments = parse_args()
    report = asyncio.run(main(arguments))
    text = json.dumps(report, indent=2, default=str)
    if arguments.out:
        Path(arguments.out).write_text(text + "\n")
    print(text)
