"""Several server processes on one port: `manage.py serve --workers N`.

One process runs one event loop on one core (Python's GIL). To use every core of a host
without a proxy in front, `serve --workers N` starts N `serve` processes that each listen
on the same address with SO_REUSEPORT, so that the kernel spreads new connections over
them. They are nodes of one fleet like processes on different hosts: a command reaches a
station through the Redis channel layer whichever process holds its socket, and the
stations of a process that dies are marked offline by the others (`server_runtime.nodes`).

The supervising process only starts, restarts and stops its workers: a worker that exits
unexpectedly is started again (after 1 s, up to 30 s if it keeps failing at start). Signals
(the workers' own handling of TERM and QUIT: server_runtime.shutdown):

- TERM, INT: fast shutdown of every worker, then the supervisor exits.
- QUIT: graceful shutdown of every worker (calls in flight finish), then the supervisor exits.
- HUP: reload. New workers start with the configuration read again (environment file,
  settings); once each listens, the old ones shut down gracefully and their stations
  reconnect to the new ones.
- WINCH: graceful shutdown of the workers; the supervisor stays (HUP starts them again).

Metrics: the workers share one PROMETHEUS_MULTIPROC_DIR (the operator's, emptied at start,
or a temporary folder of the supervisor's), so that /metrics, whichever worker answers it,
adds up every worker's values; the gauges of a worker that exited are dropped.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from csms import envfile

logger = logging.getLogger(__name__)

# A worker that lived shorter than this failed at start: wait longer before the next try.
HEALTHY_AFTER = 10.0
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STOP_TIMEOUT = 30.0
# A reloaded worker has this long to listen before the reload is given up (old ones stay).
RELOAD_TIMEOUT = 60.0
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def reuse_port_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on `host`:`port` that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Worker:
    def __init__(self, number: int) -> None:
        self.number = number
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.delay = RESTART_DELAY
        self.restart_at: float | None = None


class Supervisor:
    """Runs `count` copies of `command` until told to stop, restarting any that exits."""

    def __init__(self, command: Sequence[str], count: int, port: int | None = None) -> None:
        self.command = list(command)
        self.port = port
        self.workers = [_Worker(n) for n in range(1, count + 1)]
        self.stopping = False
        self.stop_signal = signal.SIGTERM
        # WINCH: the workers are stopped and not restarted until HUP.
        self.parked = False
        self.signals: list[int] = []
        self.metrics_dir = ""
        self._own_metrics_dir = False

    def _prepare_metrics_dir(self) -> None:
        given = os.environ.get(MULTIPROC_ENV, "")
        if given:
            # Values of processes from before this start are stale.
            os.makedirs(given, exist_ok=True)
            for name in os.listdir(given):
                if name.endswith(".db"):
                    os.unlink(os.path.join(given, name))
            self.metrics_dir = given
        else:
            self.metrics_dir = tempfile.mkdtemp(prefix="csms-metrics-")
            self._own_metrics_dir = True

    def run(self) -> int:
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGWINCH)
        previous = {sig: signal.signal(sig, self._signalled) for sig in handled}
        self._prepare_metrics_dir()
        try:
            for worker in self.workers:
                self._start(worker)
            while not self.stopping:
                self._handle_signals()
                if not self.parked and not self.stopping:
                    self._tend()
                time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all(self.workers, self.stop_signal)
            if self._own_metrics_dir:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return 0

    def _signalled(self, signum: int, _frame: FrameType | None) -> None:
        # Acted on by the loop, not inside the handler (a reload waits for new workers).
        self.signals.append(signum)

    def _handle_signals(self) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            name = signal.Signals(signum).name
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                how = "gracefully" if signum == signal.SIGQUIT else "fast"
                logger.info("Stopping %d workers %s (%s)", len(self.workers), how, name)
                self.stopping = True
                self.stop_signal = signal.SIGQUIT if signum == signal.SIGQUIT else signal.SIGTERM
                return
            if signum == signal.SIGWINCH:
                logger.info("Stopping the workers gracefully (WINCH); HUP starts them again")
                self._stop_all(self.workers, signal.SIGQUIT)
                self.parked = True
            elif signum == signal.SIGHUP:
                self._reload()

    def _reload(self) -> None:
        """Start new workers, and once they listen stop the old ones gracefully."""
        old = [w for w in self.workers if w.proc is not None and w.proc.poll() is None]
        new = [_Worker(w.number) for w in self.workers]
        logger.info("Reload (HUP): starting %d new workers", len(new))
        for worker in new:
            self._start(worker)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            if any(w.proc is not None and w.proc.poll() is not None for w in new):
                break
            if all(self._listening(w) for w in new):
                break
            time.sleep(0.2)
        if not all(self._listening(w) for w in new):
            logger.error(
                "Reload given up: a new worker did not listen within %.0f s (check its log "
                "and the configuration); the running workers stay",
                RELOAD_TIMEOUT,
            )
            self._stop_all(new, signal.SIGTERM)
            return
        self.workers = new
        self.parked = False
        logger.info("Reload: new workers listen; stopping %d old ones gracefully", len(old))
        self._stop_all(old, signal.SIGQUIT)

    def _listening(self, worker: _Worker) -> bool:
        """Whether the worker's process holds a socket listening on our port."""
        if worker.proc is None or worker.proc.poll() is not None:
            return False
        if self.port is None:
            return time.monotonic() - worker.started > HEALTHY_AFTER
        return bool(_listening_inodes(self.port) & _socket_inodes(worker.proc.pid))

    def _start(self, worker: _Worker) -> None:
        # The environment the supervisor was started with, not what it read from
        # CSMS_ENV_FILE: each worker reads the file itself, afresh on every reload.
        env = envfile.process_environment()
        if self.metrics_dir:
            env[MULTIPROC_ENV] = self.metrics_dir
        worker.proc = subprocess.Popen(self.command, env=env)
        worker.started = time.monotonic()
        worker.restart_at = None
        logger.info("Worker %d started (pid %d)", worker.number, worker.proc.pid)

    def _tend(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    self._start(worker)
                continue
            assert worker.proc is not None
            code = worker.proc.poll()
            if code is None:
                continue
            self._gone(worker.proc.pid)
            lived = now - worker.started
            worker.delay = (
                RESTART_DELAY
                if lived >= HEALTHY_AFTER
                else min(worker.delay * 2, MAX_RESTART_DELAY)
            )
            logger.error(
                "Worker %d (pid %d) exited with code %s after %.0f s; restarting it in %.0f s",
                worker.number,
                worker.proc.pid,
                code,
                lived,
                worker.delay,
            )
            worker.restart_at = now + worker.delay

    def _stop_all(self, workers: list[_Worker] | None = None, signum: int = signal.SIGTERM) -> None:
        chosen = self.workers if workers is None else workers
        running = [w.proc for w in chosen if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signum)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in running:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("Worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()
            self._gone(proc.pid)

    def _gone(self, pid: int) -> None:
        """Drop the live gauges of an exited worker from the metrics (its counters stay)."""
        if self.metrics_dir:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, self.metrics_dir)


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (any address), from /proc/net."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes
