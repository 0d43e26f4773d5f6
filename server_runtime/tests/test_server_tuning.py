"""Server settings that decide how many stations one process holds and survives at once."""

from __future__ import annotations

import contextlib
import json
import socket
import sys

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from twisted.internet import tcp

from server_runtime import server as server_module
from server_runtime import workers as workers_module
from server_runtime.workers import Supervisor, reuse_port_socket
from tests.live import raw_connect


async def test_permessage_deflate_is_negotiated_with_small_windows(csms):
    # OCPP 2.0.1 Part 4 section 3.4: the CSMS supports RFC 7692; with 1 KiB windows each
    # connection's compressor and decompressor stay small.
    ws = await raw_connect(csms, "DEFLATE-1", "2.0.1", compression="deflate")
    try:
        extensions = ws.response.headers["Sec-WebSocket-Extensions"]
        assert "permessage-deflate" in extensions
        # The station compresses with a 1 KiB window; our own compressor uses one as well
        # (a server may use a smaller window than it announces, RFC 7692 section 7.1.2.1).
        assert "client_max_window_bits=10" in extensions
        boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "A", "model": "B" * 20}}
        await ws.send(json.dumps([2, "1", "BootNotification", boot]))
        answer = json.loads(await ws.recv())
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"
    finally:
        await ws.close()


@override_settings(CSMS_WS_HANDSHAKE_TIMEOUT=45)
def test_handshake_timeout_comes_from_settings():
    # Daphne's default (5 s) drops handshakes queued behind a reconnect storm.
    server = server_module.CsmsServer(application=None, endpoints=["tcp:port=0"])
    assert server.websocket_handshake_timeout == 45
    assert server.websocket_connect_timeout == 45


@override_settings(CSMS_LISTEN_BACKLOG=1234)
def test_serve_listens_with_a_long_backlog(monkeypatch):
    seen = {}

    class Recorder:
        listen_failures: list[str] = []

        def __init__(self, **kwargs):
            seen.update(kwargs)

        def run(self):
            pass

    monkeypatch.setattr("server_runtime.management.commands.serve.CsmsServer", Recorder)
    monkeypatch.setattr("server_runtime.preflight.server_ready", lambda **kwargs: None)
    call_command("serve", "--bind", "127.0.0.1", "--port", "9999")
    assert seen["endpoints"] == ["tcp:port=9999:interface=127.0.0.1:backlog=1234"]


@override_settings(REDIS_URL="")
def test_serve_workers_need_the_redis_channel_layer():
    with pytest.raises(CommandError, match="needs REDIS_URL"):
        call_command("serve", "--workers", "2")


@override_settings(REDIS_URL="redis://127.0.0.1:6379/0")
def test_serve_workers_share_only_the_plain_listener():
    with pytest.raises(CommandError, match="terminate TLS at a proxy"):
        call_command("serve", "--workers", "2", "-e", "ssl:9443:privateKey=k:certKey=c")


def test_reuse_port_sockets_share_one_port():
    first = reuse_port_socket("127.0.0.1", 0, 16)
    try:
        port = first.getsockname()[1]
        second = reuse_port_socket("127.0.0.1", port, 16)
        second.close()
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    finally:
        first.close()


@pytest.mark.parametrize("requested", [9, 15])
def test_deflate_window_never_exceeds_what_the_station_asks(requested):
    from autobahn.websocket.compress import PerMessageDeflateOffer

    offer = PerMessageDeflateOffer(accept_max_window_bits=True, request_max_window_bits=requested)
    accept = server_module.accept_deflate([offer])
    assert accept.window_bits == min(requested, server_module.DEFLATE_WINDOW_BITS)
    assert accept.mem_level == server_module.DEFLATE_MEM_LEVEL
    assert accept.request_max_window_bits == server_module.DEFLATE_WINDOW_BITS


def test_timeout_checks_visit_every_connection_once_per_period():
    """Daphne's all-at-once timeout and ping check is spread over its period."""
    from server_runtime import server

    class Protocol:
        checked = 0

        def check_timeouts(self) -> None:
            self.checked += 1

    scheduled = []
    checker = server.CsmsServer.__new__(server.CsmsServer)
    checker._schedule = lambda delay, func: scheduled.append(delay)
    protocols = [Protocol() for _ in range(1000)]
    checker.connections = {p: {} for p in protocols}
    checker._timeout_round, checker._timeout_next = [], 0
    for _ in range(server.TIMEOUT_SLICES):
        checker.timeout_checker()
    assert [p.checked for p in protocols] == [1] * 1000
    assert sum(scheduled) == pytest.approx(server.TIMEOUT_PERIOD)
    # A connection closed meanwhile is skipped; new ones join the next round.
    del checker.connections[protocols[0]]
    late = Protocol()
    checker.connections[late] = {}
    for _ in range(server.TIMEOUT_SLICES):
        checker.timeout_checker()
    assert protocols[0].checked == 1
    assert protocols[1].checked == 2
    assert late.checked == 1


def test_finished_applications_of_closed_connections_are_reaped_in_slices():
    import asyncio

    from server_runtime import server

    loop = asyncio.new_event_loop()
    try:
        done = loop.create_future()
        done.set_result(None)
        running = loop.create_future()
        checker = server.CsmsServer.__new__(server.CsmsServer)
        checker._schedule = lambda delay, func: None
        checker.application_close_timeout = 10
        closed, open_ = object(), object()
        checker.connections = {
            closed: {"application_instance": done, "disconnected": 1.0},
            open_: {"application_instance": running},
        }
        checker._reap_round, checker._reap_next = [], 0
        for _ in range(server.REAP_SLICES):
            checker.application_checker()
        # A closed connection whose application finished is forgotten; an open one stays.
        assert closed not in checker.connections
        assert checker.connections[open_]["application_instance"] is running
    finally:
        loop.close()


def test_autobahn_debug_arguments_are_formatted_only_when_read(monkeypatch):
    """autobahn's per-frame debug lines get their text only if a debug log asks for it."""
    from autobahn import util
    from autobahn.twisted import websocket as autobahn_twisted
    from autobahn.websocket import protocol

    formatted = []
    lazy = server_module._lazily(lambda *args: formatted.append(args) or "text")
    value = lazy(1, 2)
    assert formatted == []
    assert f"[{value}] {value!r} {value:>6}" == "[text] text   text"
    assert formatted == [(1, 2)] * 3

    for module in (protocol, autobahn_twisted):
        assert str(module.hltype(util.hl)) == util.hltype(util.hl)
        assert str(module.hlval(1234)) == util.hlval(1234)
    assert str(protocol.pformat({"a": 1})) == "{'a': 1}"


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 1000, 70000])
def test_xor_masker_unmasks_as_autobahn_does_whole_and_in_pieces(size):
    import os

    from autobahn.nvx._xormasker import create_xor_masker

    mask, data = os.urandom(4), os.urandom(size)
    expected = create_xor_masker(mask, size).process(data)
    assert server_module.XorMasker(mask, size).process(data) == expected
    masker = server_module.XorMasker(mask)
    pieces, start = [], 0
    for step in (1, 2, 3, 5, 7, 11) * (size // 29 + 1):
        pieces.append(masker.process(data[start : start + step]))
        start += step
    pieces.append(masker.process(data[start:]))
    assert b"".join(pieces) == expected
    assert masker.pointer() == size
    masker.reset()
    assert masker.pointer() == 0


def test_supervisor_restarts_a_worker_that_exits_later_each_time_it_fails_at_start():
    supervisor = Supervisor([sys.executable, "-c", "raise SystemExit(3)"], 1)
    worker = supervisor.workers[0]
    supervisor._start(worker)
    first = worker.proc
    first.wait(10)
    supervisor._tend()
    # It failed at once: the next try waits twice as long as the first.
    assert worker.restart_at is not None and worker.delay == 2 * workers_module.RESTART_DELAY
    worker.restart_at = 0.0
    supervisor._tend()
    assert worker.proc is not first and worker.restart_at is None
    worker.proc.wait(10)
    supervisor._tend()
    assert worker.delay == 4 * workers_module.RESTART_DELAY
    supervisor._stop_all()


def test_supervisor_stops_its_workers():
    supervisor = Supervisor([sys.executable, "-c", "import time; time.sleep(60)"], 2)
    for worker in supervisor.workers:
        supervisor._start(worker)
    supervisor._stop_all()
    assert all(worker.proc.poll() is not None for worker in supervisor.workers)


class _Reactor:
    """What a Twisted transport asks of its reactor, recorded."""

    def __init__(self):
        self.writers = []

    def addWriter(self, writer):
        if writer not in self.writers:
            self.writers.append(writer)

    def removeWriter(self, writer):
        if writer in self.writers:
            self.writers.remove(writer)

    def callLater(self, *args, **kwargs):
        raise AssertionError("not expected")


def test_frames_are_sent_at_once_and_what_does_not_fit_is_queued_in_order():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reactor = _Reactor()
    transport = tcp.Connection(ours, protocol=None, reactor=reactor)
    transport.connected = True
    theirs.settimeout(1)
    try:
        server_module.write_at_once(transport, b"small frame")
        # Sent without waiting for the event loop: no writer registered.
        assert theirs.recv(100) == b"small frame"
        assert reactor.writers == []

        big = bytes(range(256)) * 4096  # 1 MiB: more than the socket takes at once
        server_module.write_at_once(transport, big)
        server_module.write_at_once(transport, b"next")  # queued behind the rest of `big`
        assert reactor.writers == [transport]
        received = bytearray()
        theirs.setblocking(False)
        while len(received) < len(big) + 4:
            with contextlib.suppress(BlockingIOError):
                received += theirs.recv(1 << 20)
            if reactor.writers:
                transport.doWrite()
        assert bytes(received) == big + b"next"
    finally:
        ours.close()
        theirs.close()
