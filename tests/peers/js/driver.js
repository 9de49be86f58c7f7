'use strict';
// The benchmark driver for centrifuge-js 5.7.4 on Node 20 (contract: tests/peers/README.md).
//
//   node driver.js <scenario> key=value ...
//
// Node 20 has no global WebSocket, so the `ws` package is passed to the SDK. The protobuf build
// (`centrifuge/build/protobuf`) takes payloads as Uint8Array; the JSON build takes JSON values.
// Phases and results mirror tests/peers/runner/src/bin/driver-ours.rs.

const fs = require('fs');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');

/** Every wait of a driver ends by this, in milliseconds. */
const WAIT_MS = 60_000;
const WARM_UP = 200;
// How long idle waits after the last connect before it measures.
const SETTLE_MS = 1000;

// ---- arguments, measurement and output -----------------------------------------------------

/** Prints `why` on stderr and exits with status 1. */
function fail(why) {
  process.stderr.write(`${why}\n`);
  process.exit(1);
}

/** The text of an SDK error (centrifuge-js rejects with plain `{code, message}` objects). */
function describe(err) {
  if (err instanceof Error) return err.stack || err.message;
  if (err && typeof err === 'object') return JSON.stringify(err);
  return String(err);
}

/** The scenario and its `key=value` arguments. */
function parseArgs(argv) {
  const [scenario, ...rest] = argv;
  if (!scenario) fail('usage: node driver.js <scenario> key=value ...');
  const values = new Map();
  for (const arg of rest) {
    const at = arg.indexOf('=');
    if (at < 0) fail(`argument ${JSON.stringify(arg)} is not key=value`);
    values.set(arg.slice(0, at), arg.slice(at + 1));
  }
  const text = (key) => {
    if (!values.has(key)) fail(`missing argument ${key}=`);
    return values.get(key);
  };
  const number = (key) => {
    const value = text(key);
    if (!/^\d+$/.test(value)) fail(`${key}= must be a whole number`);
    return Number(value);
  };
  return { scenario, text, number };
}

/** User + system CPU seconds of this process so far (every thread). */
function cpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Voluntary and involuntary context switches of this process so far. */
function wakeups() {
  const usage = process.resourceUsage();
  return usage.voluntaryContextSwitches + usage.involuntaryContextSwitches;
}

/** Resident memory of this process, KiB (VmRSS, as every other driver reads it). */
function rssKib() {
  let status = '';
  try {
    status = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return 0;
  }
  const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
  return line ? Number.parseInt(line.slice('VmRSS:'.length).trim(), 10) || 0 : 0;
}

/** Threads of this process. */
function threads() {
  try {
    return fs.readdirSync('/proc/self/task').length;
  } catch {
    return 0;
  }
}

/** Milliseconds on a monotonic clock. */
const now = () => performance.now();

/** Prints the `RESULT` line (stdout to a pipe is synchronous on Linux, so exit may follow). */
function result(fields) {
  process.stdout.write(`RESULT ${JSON.stringify(fields)}\n`);
}

function ready() {
  process.stdout.write('READY\n');
}

/** The median and 99th percentile of `samples` (milliseconds), in microseconds. */
function percentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (fraction) => {
    if (sorted.length === 0) return 0;
    return sorted[Math.round((sorted.length - 1) * fraction)] * 1000;
  };
  return [at(0.5), at(0.99)];
}

/** A promise that is resolved from outside, and fails the driver unless it is within WAIT_MS. */
function signal(what) {
  let resolve;
  const promise = new Promise((res) => {
    resolve = res;
  });
  const timer = setTimeout(() => fail(`no ${what} within ${WAIT_MS / 1000} s`), WAIT_MS);
  return {
    fire(value) {
      clearTimeout(timer);
      resolve(value);
    },
    wait: () => promise,
  };
}

/** `promise`, or a failure after WAIT_MS. */
async function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS / 1000} s`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- the SDK in either format --------------------------------------------------------------

/** The Centrifuge class of the format's build, and how a JSON payload text becomes `data`. */
function sdk(args) {
  switch (args.text('format')) {
    case 'json':
      return { Centrifuge: require('centrifuge').Centrifuge, payload: (json) => JSON.parse(json) };
    case 'protobuf': {
      const encoder = new TextEncoder();
      return {
        Centrifuge: require('centrifuge/build/protobuf').Centrifuge,
        payload: (json) => encoder.encode(json),
      };
    }
    default:
      return fail(`format=${args.text('format')}: expected json or protobuf`);
  }
}

function newClient(args, Centrifuge) {
  const client = new Centrifuge(args.text('url'), { websocket: WebSocket });
  client.on('error', (ctx) => process.stderr.write(`client error: ${describe(ctx.error)}\n`));
  return client;
}

/** A connected client. */
async function connected(args, Centrifuge) {
  const client = newClient(args, Centrifuge);
  client.connect();
  try {
    await client.ready(WAIT_MS);
  } catch (err) {
    fail(`not connected: ${describe(err)}`);
  }
  return client;
}

// ---- scenarios -----------------------------------------------------------------------------

async function ingest(args) {
  const { Centrifuge } = sdk(args);
  const count = args.number('count');
  const cpuStart = cpuSeconds();
  const client = newClient(args, Centrifuge);
  const subscribed = signal('subscribed');
  const sub = client.newSubscription(args.text('channel'));
  let seen = 0;
  let started = 0;
  let ended = 0;
  let last = null;
  sub.on('publication', () => {
    seen += 1;
    if (seen === 1) started = now();
    if (seen === count) {
      ended = now();
      if (last) last.fire();
    }
  });
  sub.on('subscribed', () => subscribed.fire());
  sub.on('error', (ctx) => process.stderr.write(`subscription error: ${describe(ctx.error)}\n`));
  sub.subscribe();
  client.connect();
  await subscribed.wait();
  // Armed only now, like the Rust driver's 60 s waits that start after READY; publications that
  // already arrived are counted all the same.
  const first = signal('the first publication');
  last = signal('the last publication');
  ready();
  if (seen >= 1) first.fire();
  else sub.once('publication', () => first.fire());
  if (seen >= count) last.fire();
  await first.wait();
  await last.wait();
  const cpu = cpuSeconds() - cpuStart;
  result({ count, wall_s: (ended - started) / 1000, cpu_s: cpu, rss_kib: rssKib() });
  client.disconnect();
}

async function roundtrip(args) {
  const { Centrifuge, payload } = sdk(args);
  const count = args.number('count');
  const channel = args.text('channel');
  const op = args.text('op');
  const client = await connected(args, Centrifuge);
  let call;
  switch (op) {
    case 'rpc':
      call = () => client.rpc('ping', payload('{}'));
      break;
    case 'publish':
      call = () => client.publish(channel, payload('{}'));
      break;
    default:
      fail(`op=${op}: expected rpc or publish`);
  }
  for (let i = 0; i < WARM_UP; i++) {
    await call().catch((err) => fail(`warm-up call failed: ${describe(err)}`));
  }
  const cpuStart = cpuSeconds();
  const started = now();
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const sent = now();
    await call().catch((err) => fail(`call failed: ${describe(err)}`));
    samples[i] = now() - sent;
  }
  const wall = (now() - started) / 1000;
  const cpu = cpuSeconds() - cpuStart;
  const [p50, p99] = percentiles(samples);
  result({ count, p50_us: p50, p99_us: p99, wall_s: wall, cpu_s: cpu });
  client.disconnect();
}

async function pipelined(args) {
  const { Centrifuge, payload } = sdk(args);
  const count = args.number('count');
  const workers = args.number('workers');
  const channel = args.text('channel');
  const client = await connected(args, Centrifuge);
  let issued = 0;
  // One of W concurrent tasks: each awaits its own reply before its next publish.
  const worker = async () => {
    for (;;) {
      const n = issued++;
      if (n >= count) return;
      await client
        .publish(channel, payload(`{"n":${n}}`))
        .catch((err) => fail(`publish failed: ${describe(err)}`));
    }
  };
  const cpuStart = cpuSeconds();
  const wakeupsStart = wakeups();
  const started = now();
  await within(Promise.all(Array.from({ length: workers }, worker)), 'end of the publishes');
  const wall = (now() - started) / 1000;
  const cpu = cpuSeconds() - cpuStart;
  result({ count, wall_s: wall, cpu_s: cpu, msgs_per_s: count / wall, wakeups: wakeups() - wakeupsStart });
  client.disconnect();
}

async function fanin(args) {
  const { Centrifuge } = sdk(args);
  const channels = args.number('channels');
  const prefix = args.text('prefix');
  const rssBase = rssKib();
  const client = await connected(args, Centrifuge);
  const done = signal('every subscription');
  let subscribed = 0;
  let ended = 0;
  const onSubscribed = () => {
    subscribed += 1;
    if (subscribed === channels) {
      ended = now();
      done.fire();
    }
  };
  const cpuStart = cpuSeconds();
  const started = now();
  // "As fast as the SDK allows": centrifuge-js's public batching sends every subscribe command
  // in one frame on stopBatching() (about twice as fast here as one frame per subscription).
  client.startBatching();
  const subs = [];
  for (let n = 0; n < channels; n++) {
    const sub = client.newSubscription(`${prefix}${n}`);
    sub.on('subscribed', onSubscribed);
    sub.on('unsubscribed', (ctx) => fail(`${sub.channel} unsubscribed: ${describe(ctx)}`));
    sub.on('error', (ctx) => process.stderr.write(`${sub.channel}: ${describe(ctx.error)}\n`));
    sub.subscribe();
    subs.push(sub);
  }
  client.stopBatching();
  await done.wait();
  const cpu = cpuSeconds() - cpuStart;
  result({
    channels,
    wall_s: (ended - started) / 1000,
    cpu_s: cpu,
    rss_kib: rssKib(),
    rss_base_kib: rssBase,
  });
  client.disconnect();
}

async function idle(args) {
  const { Centrifuge } = sdk(args);
  const clients = args.number('clients');
  const seconds = args.number('seconds');
  const rssBase = rssKib();
  const everyone = signal('connection of every client');
  let connectedCount = 0;
  const all = [];
  for (let i = 0; i < clients; i++) {
    const client = newClient(args, Centrifuge);
    client.on('connected', () => {
      connectedCount += 1;
      if (connectedCount === clients) everyone.fire();
    });
    client.connect();
    all.push(client);
  }
  if (clients === 0) everyone.fire();
  await everyone.wait();
  // Let the connect work finish first: idle means idle.
  await sleep(SETTLE_MS);
  const cpuStart = cpuSeconds();
  const wakeupsStart = wakeups();
  await sleep(seconds * 1000);
  const cpu = cpuSeconds() - cpuStart;
  const woken = wakeups() - wakeupsStart;
  result({
    clients,
    seconds,
    cpu_s: cpu,
    wakeups: woken,
    rss_kib: rssKib(),
    rss_base_kib: rssBase,
    threads: threads(),
  });
  for (const client of all) client.disconnect();
}

const SCENARIOS = { ingest, roundtrip, pipelined, fanin, idle };

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const scenario = SCENARIOS[args.scenario];
  if (!scenario) fail(`unsupported scenario ${args.scenario}`);
  await scenario(args);
  // The SDK and `ws` may leave timers behind; never let them hold the run.
  process.exit(0);
}

process.on('unhandledRejection', (err) => fail(`unhandled rejection: ${describe(err)}`));
main().catch((err) => fail(describe(err)));
