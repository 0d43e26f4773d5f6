"""Several server processes on one port: `manage.py serve --workers N`.

One process runs one event loop on one core (Python's GIL). To use every core of a host
without a proxy in front, `serve --workers N` starts N `serve` processes that each listen
on the same address with SO_REUSEPORT, so that the kernel spreads new connections over
them. They are nodes of one fleet like processes on different hosts: a command reaches a
station through the Redis channel layer whichever process holds its socket, and the
stations of a process that dies are marked offline by the others (`server_runtime.nodes`).

The supervising process only starts, restarts and stops its workers: a worker that exits
unexpectedly is started again (after 1 s, up to 30 s if it keeps failing at start), and
SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from types import FrameType

logger = logging.getLogger(__name__)

# A worker that lived shorter than this failed at start: wait longer before the next try.
HEALTHY_AFTER = 10.0
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STOP_TIMEOUT = 30.0


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

    def __init__(self, command: Sequence[str], count: int) -> None:
        self.command = list(command)
        self.workers = [_Worker(n) for n in range(1, count + 1)]
        self.stopping = False

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for worker in self.workers:
                self._start(worker)
            while not self.stopping:
                self._tend()
                time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
        return 0

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("Stopping %d workers (%s)", len(self.workers), signal.Signals(signum).name)
        self.stopping = True

    def _start(self, worker: _Worker) -> None:
        worker.proc = subprocess.Popen(self.command)
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

    def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in running:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("Worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()
