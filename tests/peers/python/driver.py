"""The benchmark driver for centrifuge-python 0.7.0 (contract: tests/peers/README.md).

It mirrors the reference driver tests/peers/runner/src/bin/driver-ours.rs: the same measured
phases, the same payloads and the same result fields.

The SDK awaits every event handler on the task that processes incoming frames, one at a time,
so a handler that awaited an SDK call would wait for a reply that same task has to process.
Handlers here only count and signal an asyncio.Event.

Payloads: in JSON mode the SDK json-encodes the Python object passed to it (so `{}` and
`{"n": i}` are passed as dicts); in Protobuf mode it takes bytes, which are the same JSON text.
"""

import asyncio
import json
import os
import resource
import sys
import time
from typing import Any, Callable, Dict, List, NoReturn, Optional, Set, Tuple

from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    ErrorContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionErrorContext,
    SubscriptionEventHandler,
)

# Every wait of the driver ends by this, in seconds. The SDK's own calls (connect, publish,
# rpc) are bounded by its `timeout` option, 5 s by default.
WAIT = 60.0
WARM_UP = 200
# How long idle waits after the last connect before it measures.
SETTLE_SECONDS = 1.0


class Failure(Exception):
    """Ends the driver with a message on stderr and exit status 1."""


def fail(why: str) -> NoReturn:
    raise Failure(why)


class Args:
    """The scenario and its key=value arguments."""

    def __init__(self, argv: List[str]) -> None:
        if not argv:
            fail("usage: driver.py <scenario> key=value ...")
        self.scenario = argv[0]
        self.values: Dict[str, str] = {}
        self._protobuf: Optional[bool] = None
        for arg in argv[1:]:
            key, sep, value = arg.partition("=")
            if not sep:
                fail(f"argument {arg!r} is not key=value")
            self.values[key] = value

    def text(self, key: str) -> str:
        if key not in self.values:
            fail(f"missing argument {key}=")
        return self.values[key]

    def number(self, key: str) -> int:
        text = self.text(key)
        if not text.isdigit():
            fail(f"{key}= must be a whole number")
        return int(text)

    def protobuf(self) -> bool:
        """Whether format=protobuf (else json)."""
        if self._protobuf is None:
            format_ = self.text("format")
            if format_ not in ("json", "protobuf"):
                fail(f"format={format_}: expected json or protobuf")
            self._protobuf = format_ == "protobuf"
        return self._protobuf

    def payload(self, value: Any) -> Any:
        """`value` as the SDK takes it: the object itself for JSON, its JSON bytes for Protobuf."""
        if self.protobuf():
            return json.dumps(value, separators=(",", ":")).encode()
        return value


# --- Self-measurement (the same in every language, see the contract) ----------------------


def cpu_time() -> float:
    """User + system CPU seconds of the whole process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wakeups() -> int:
    """Voluntary + involuntary context switches of the process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def rss_kib() -> int:
    """VmRSS of the process, KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def threads() -> int:
    """Threads of the process."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def percentiles(samples: List[float]) -> Tuple[float, float]:
    """The median and 99th percentile of `samples` (seconds), in microseconds, picked as the
    reference driver does (nearest rank, halves rounded away from zero)."""
    samples = sorted(samples)
    if not samples:
        return 0.0, 0.0

    def at(fraction: float) -> float:
        index = int((len(samples) - 1) * fraction + 0.5)
        return samples[index] * 1e6

    return at(0.50), at(0.99)


def ready() -> None:
    print("READY", flush=True)


def result(fields: Dict[str, Any]) -> None:
    print("RESULT " + json.dumps(fields), flush=True)


# --- Signals from handlers to the scenario ------------------------------------------------


class Signal:
    """Set once from a handler; remembers when it was first set."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._at = 0.0

    def fire(self) -> None:
        if not self._event.is_set():
            self._at = time.perf_counter()
            self._event.set()

    async def wait(self, what: str) -> float:
        try:
            await asyncio.wait_for(self._event.wait(), WAIT)
        except asyncio.TimeoutError:
            fail(f"no {what} within {WAIT:.0f} s")
        return self._at


class Tally:
    """Counts distinct keys (channels, client ids) and fires `done` at the `target`-th.

    Distinct, because a reconnect reports them again: a subscribe reply that misses the SDK's
    5 s timeout makes it reconnect and resubscribe everything."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen: Set[str] = set()
        self.done = Signal()

    def add(self, key: str) -> None:
        self.seen.add(key)
        if len(self.seen) == self.target:
            self.done.fire()


class ClientEvents(ClientEventHandler):
    """Reports SDK errors on stderr, so a run that times out says why; counts connections."""

    def __init__(self, connected: Callable[[ConnectedContext], None] = lambda ctx: None) -> None:
        self._connected = connected

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self._connected(ctx)

    async def on_error(self, ctx: ErrorContext) -> None:
        print(f"client error: {ctx.code} {ctx.error!r}", file=sys.stderr)


class SubscriptionEvents(SubscriptionEventHandler):
    """Calls `subscribed` and `publication` (plain functions that only count), and reports
    subscription errors on stderr."""

    def __init__(
        self,
        subscribed: Callable[[SubscribedContext], None] = lambda ctx: None,
        publication: Callable[[PublicationContext], None] = lambda ctx: None,
    ) -> None:
        self._subscribed = subscribed
        self._publication = publication

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self._subscribed(ctx)

    async def on_publication(self, ctx: PublicationContext) -> None:
        self._publication(ctx)

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        print(f"subscription error: {ctx.code} {ctx.error!r}", file=sys.stderr)


# --- Clients ---------------------------------------------------------------------------------


def new_client(args: Args, events: Optional[ClientEventHandler] = None) -> Client:
    """An anonymous client (no token) speaking the format= of the arguments."""
    return Client(args.text("url"), events=events or ClientEvents(), use_protobuf=args.protobuf())


async def connected(args: Args) -> Client:
    """A client once it has connected."""
    client = new_client(args)
    await client.connect()
    try:
        await client.ready(timeout=WAIT)
    except Exception as err:
        fail(f"not connected: {err!r}")
    return client


async def close(clients: List[Client]) -> None:
    """Disconnects, and gives the SDK's background close handshakes a moment to finish."""
    for client in clients:
        try:
            await client.disconnect()
        except Exception as err:
            print(f"disconnect: {err!r}", file=sys.stderr)
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=2.0)


# --- Scenarios -------------------------------------------------------------------------------


async def ingest(args: Args) -> None:
    count = args.number("count")
    channel = args.text("channel")
    cpu_start = cpu_time()
    client = new_client(args)
    subscribed, first, last = Signal(), Signal(), Signal()
    seen = 0

    def publication(ctx: PublicationContext) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            first.fire()
        if seen == count:
            last.fire()

    events = SubscriptionEvents(subscribed=lambda ctx: subscribed.fire(), publication=publication)
    sub = client.new_subscription(channel, events=events)
    await sub.subscribe()
    await client.connect()
    await subscribed.wait("subscribed")
    ready()
    started = await first.wait("first publication")
    ended = await last.wait("last publication")
    cpu = cpu_time() - cpu_start
    result({"count": count, "wall_s": ended - started, "cpu_s": cpu, "rss_kib": rss_kib()})
    await close([client])


async def roundtrip(args: Args) -> None:
    count = args.number("count")
    channel = args.text("channel")
    op = args.text("op")
    if op not in ("rpc", "publish"):
        fail(f"op={op}: expected rpc or publish")
    data = args.payload({})
    client = await connected(args)

    async def call() -> None:
        if op == "rpc":
            await client.rpc("ping", data)
        else:
            await client.publish(channel, data)

    try:
        for _ in range(WARM_UP):
            await call()
    except Exception as err:
        fail(f"warm-up call failed: {err!r}")
    samples: List[float] = []
    cpu_start = cpu_time()
    started = time.perf_counter()
    try:
        for _ in range(count):
            sent = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - sent)
    except Exception as err:
        fail(f"call failed: {err!r}")
    wall = time.perf_counter() - started
    cpu = cpu_time() - cpu_start
    p50, p99 = percentiles(samples)
    result({"count": count, "p50_us": p50, "p99_us": p99, "wall_s": wall, "cpu_s": cpu})
    await close([client])


async def pipelined(args: Args) -> None:
    count = args.number("count")
    workers = args.number("workers")
    channel = args.text("channel")
    client = await connected(args)
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while True:
            n = issued
            issued += 1
            if n >= count:
                return
            try:
                await client.publish(channel, args.payload({"n": n}))
            except Exception as err:
                fail(f"publish failed: {err!r}")

    cpu_start, wakeups_start = cpu_time(), wakeups()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    wall = time.perf_counter() - started
    cpu = cpu_time() - cpu_start
    woken = wakeups() - wakeups_start
    result({"count": count, "wall_s": wall, "cpu_s": cpu, "msgs_per_s": count / wall, "wakeups": woken})
    await close([client])


async def fanin(args: Args) -> None:
    channels = args.number("channels")
    prefix = args.text("prefix")
    rss_base = rss_kib()
    client = await connected(args)
    subscribed = Tally(channels)
    cpu_start = cpu_time()
    started = time.perf_counter()
    subs = []
    for n in range(channels):
        events = SubscriptionEvents(subscribed=lambda ctx: subscribed.add(ctx.channel))
        sub = client.new_subscription(f"{prefix}{n}", events=events)
        await sub.subscribe()
        subs.append(sub)
    ended = await subscribed.done.wait("every subscription")
    cpu = cpu_time() - cpu_start
    result({
        "channels": channels, "wall_s": ended - started, "cpu_s": cpu,
        "rss_kib": rss_kib(), "rss_base_kib": rss_base,
    })
    await close([client])


async def idle(args: Args) -> None:
    count = args.number("clients")
    seconds = args.number("seconds")
    rss_base = rss_kib()
    connected_all = Tally(count)
    events = [ClientEvents(connected=lambda ctx: connected_all.add(ctx.client)) for _ in range(count)]
    clients = [new_client(args, client_events) for client_events in events]
    await asyncio.gather(*(client.connect() for client in clients))
    await connected_all.done.wait("connection of every client")
    # Let the connect work finish first: idle means idle.
    await asyncio.sleep(SETTLE_SECONDS)
    cpu_start, wakeups_start = cpu_time(), wakeups()
    await asyncio.sleep(seconds)
    cpu, woken = cpu_time() - cpu_start, wakeups() - wakeups_start
    result({
        "clients": count, "seconds": seconds, "cpu_s": cpu, "wakeups": woken,
        "rss_kib": rss_kib(), "rss_base_kib": rss_base, "threads": threads(),
    })
    await close(clients)


SCENARIOS = {
    "ingest": ingest,
    "roundtrip": roundtrip,
    "pipelined": pipelined,
    "fanin": fanin,
    "idle": idle,
}


def main() -> None:
    try:
        args = Args(sys.argv[1:])
        scenario = SCENARIOS.get(args.scenario)
        if scenario is None:
            fail(f"unsupported scenario {args.scenario}")
        asyncio.run(scenario(args))
    except Failure as why:
        print(why, file=sys.stderr)
        sys.exit(1)
    except Exception as err:
        print(f"driver error: {err!r}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
