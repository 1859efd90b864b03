"""Steady client load on loopback: WebSocket and HTTP clients that resend until acked.

Each client behaves like tracker.js: it sends one batch, waits for the ack, and keeps
the batch (same mids) until an ack for it arrives, reconnecting with backoff when the
connection drops or the server answers with an error frame / a 503. That makes the
load usable both for the soak (``collector bench soak``) and for fault tests that kill
or cut the server under it: afterwards every event sent must be stored exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec
import websockets

from collector.bench.synthetic import session_events

ACK_TIMEOUT = 30.0
MAX_ERROR_SAMPLES = 10
LAG_PROBE_SECONDS = 0.01


@dataclass
class LoadTotals:
    """What the clients saw, summed over all of them."""

    sent: int = 0  # events sent, every attempt and resend counted
    batches: int = 0  # batches acked
    acked_mids: set[str] = field(default_factory=set)  # every event some ack covered
    accepted: int = 0  # events newly stored, as acks report
    duplicates: int = 0  # events acks reported as already stored
    rejected: int = 0
    resent_on_purpose: int = 0  # events resent after their ack, to exercise dedupe
    errors: int = 0  # error frames, 5xx, dropped connections, timeouts
    retries: int = 0  # attempts of batches that were not acked at the first try
    unacked: int = 0  # events still without an ack when the load ended
    latencies_ms: list[float] = field(default_factory=list)
    # How late the clients' own event loop ran a 10 ms timer: the part of an ack's
    # measured time that is the load generator's, not the server's.
    loop_lag_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    connections: int = 0

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(what[:300])


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long the clients push."""

    ws_clients: int = 200
    http_clients: int = 20
    seconds: float = 60.0
    batch: int = 25  # events per batch (what tracker.js sends)
    interval: float = 0.5  # seconds between a client's batches (after its ack)
    resend_every: int = 50  # every Nth batch of a client is sent a second time
    drain_seconds: float = 60.0  # after `seconds`, how long to keep resending unacked
    compression: bool = True  # permessage-deflate on WebSockets, as browsers negotiate
    # Number of the first client: a client's events (mids, sessions) follow from its
    # number, so loads run side by side send different events only if they differ here.
    first_client: int = 0


class _Batches:
    """Deterministic lesson traffic of one client, cut into batches with unique mids."""

    def __init__(self, client: int, size: int) -> None:
        self.rng = random.Random(client)
        self.client = client
        self.size = size
        self._events = self._generate()

    def _generate(self) -> Any:
        for session in itertools.count():
            start = 1_763_000_000_000 + session * 60_000
            yield from session_events(self.rng, start, self.client * 100_000 + session, 40)

    def next(self) -> list[dict[str, Any]]:
        out = []
        for ev in itertools.islice(self._events, self.size):
            ev["mid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            out.append(ev)
        return out


class _Client:
    """One client's loop; subclasses open connections and exchange one batch."""

    kind = "client"

    def __init__(self, index: int, plan: LoadPlan, totals: LoadTotals,
                 stop_new: Callable[[], bool], give_up: Callable[[], bool]) -> None:
        self.index = index
        self.plan = plan
        self.totals = totals
        self.stop_new = stop_new
        self.give_up = give_up
        self.batches = _Batches(index, plan.batch)
        self.counter = 0

    async def run(self) -> None:
        await asyncio.sleep(random.Random(self.index).random() * min(1.0, self.plan.interval))
        last: list[dict[str, Any]] | None = None
        while not self.stop_new():
            self.counter += 1
            resend = (last is not None and self.plan.resend_every
                      and self.counter % self.plan.resend_every == 0)
            events = last if resend and last is not None else self.batches.next()
            if resend:
                self.totals.resent_on_purpose += len(events)
            if not await self.deliver(events):
                break
            last = events
            await asyncio.sleep(self.plan.interval)
        await self.close()

    async def deliver(self, events: list[dict[str, Any]]) -> bool:
        """Send until acked; False when the load gives up first (events stay unacked)."""
        frame_id = f"{self.kind}{self.index}-{self.counter}"
        body = msgspec.json.encode({"id": frame_id, "events": events})
        backoff = 0.05
        attempts = 0
        while not self.give_up():
            attempts += 1
            if attempts > 1:
                self.totals.retries += 1
            started = time.perf_counter()
            self.totals.sent += len(events)
            try:
                ack = await asyncio.wait_for(self.exchange(body), ACK_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - refused, reset, closed, timed out
                self.totals.error(f"{self.kind}: {type(exc).__name__}: {exc}")
                await self.drop()
                await asyncio.sleep(backoff)
                backoff = min(1.0, backoff * 2)
                continue
            if "error" in ack:
                self.totals.error(f"{self.kind} error answer: {ack['error']}")
                await asyncio.sleep(backoff)
                backoff = min(1.0, backoff * 2)
                continue
            self.totals.latencies_ms.append((time.perf_counter() - started) * 1000)
            self.totals.batches += 1
            self.totals.accepted += ack["accepted"]
            self.totals.duplicates += ack["duplicates"]
            self.totals.rejected += len(ack["rejected"])
            self.totals.acked_mids.update(e["mid"] for e in events)
            return True
        self.totals.unacked += len(events)
        return False

    async def exchange(self, body: bytes) -> dict[str, Any]:
        raise NotImplementedError

    async def drop(self) -> None:
        """Forget the connection after a failure (the next exchange reconnects)."""

    async def close(self) -> None:
        await self.drop()


class WsClient(_Client):
    """``/v1/ws`` client; one batch in flight, like tracker.js's ack wait."""

    kind = "ws"

    def __init__(self, url: str, *args: Any) -> None:
        super().__init__(*args)
        self.url = url
        self.ws: Any = None

    async def exchange(self, body: bytes) -> dict[str, Any]:

        if self.ws is None:
            self.ws = await websockets.connect(
                self.url, max_size=None, open_timeout=10, ping_interval=None,
                compression="deflate" if self.plan.compression else None)
            self.totals.connections += 1
        await self.ws.send(body.decode())
        reply: dict[str, Any] = json.loads(await self.ws.recv())
        return reply

    async def drop(self) -> None:
        if self.ws is not None:
            ws, self.ws = self.ws, None
            try:
                await asyncio.wait_for(ws.close(), 2)
            except Exception:  # noqa: BLE001 - already broken
                pass


class HttpClient(_Client):
    """``POST /v1/telemetry`` over one keep-alive HTTP/1.1 connection."""

    kind = "http"

    def __init__(self, url: str, key: str, *args: Any) -> None:
        super().__init__(*args)
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.key = key
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, body: bytes) -> dict[str, Any]:
        if self.stream is None:
            self.stream = await asyncio.open_connection(self.host, self.port)
            self.totals.connections += 1
        reader, writer = self.stream
        writer.write(b"POST /v1/telemetry HTTP/1.1\r\nHost: %s:%d\r\n"
                     b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (self.host.encode(), self.port,
                                                       self.key.encode(), len(body)) + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = json.loads(await reader.readexactly(length)) if length else {}
        if close:
            await self.drop()
        if status != 200:
            errmsg = payload.get("params", {}).get("errmsg") if isinstance(payload, dict) else ""
            return {"error": f"HTTP {status}: {errmsg}"}
        result: dict[str, Any] = payload["result"]
        return result

    async def drop(self) -> None:
        if self.stream is not None:
            _, writer = self.stream
            self.stream = None
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2)
            except Exception:  # noqa: BLE001 - already broken
                pass


async def run_load(base_url: str, key: str, plan: LoadPlan,
                   totals: LoadTotals | None = None) -> LoadTotals:
    """Run ``plan`` against a collector at ``base_url``; returns what the clients saw.

    New batches stop after ``plan.seconds``; a batch not acked by then is resent until
    ``plan.drain_seconds`` later (its events are counted in ``unacked`` if never acked).
    """
    totals = totals or LoadTotals()
    start = time.monotonic()
    stop_at = start + plan.seconds
    give_up_at = stop_at + plan.drain_seconds
    ws_url = base_url.replace("http", "ws", 1) + f"/v1/ws?key={key}"

    def stop_new() -> bool:
        return time.monotonic() >= stop_at

    def give_up() -> bool:
        return time.monotonic() >= give_up_at

    first = plan.first_client
    clients: list[_Client] = [WsClient(ws_url, first + i, plan, totals, stop_new, give_up)
                              for i in range(plan.ws_clients)]
    clients += [HttpClient(base_url, key, first + plan.ws_clients + i, plan, totals, stop_new,
                           give_up) for i in range(plan.http_clients)]
    probe = asyncio.ensure_future(_probe_loop_lag(totals, stop_new))
    await asyncio.gather(*(c.run() for c in clients))
    await probe
    return totals


async def _probe_loop_lag(totals: LoadTotals, stop: Callable[[], bool]) -> None:
    while not stop():
        asked = time.monotonic()
        await asyncio.sleep(LAG_PROBE_SECONDS)
        totals.loop_lag_ms.append((time.monotonic() - asked - LAG_PROBE_SECONDS) * 1000)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
