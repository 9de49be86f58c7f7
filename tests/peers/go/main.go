// The benchmark driver for centrifuge-go (contract: tests/peers/README.md). It mirrors the
// reference driver tests/peers/runner/src/bin/driver-ours.rs: the same measured phases, the
// same payloads and the same result fields.
//
// Handlers only count and signal through buffered channels without blocking: centrifuge-go
// runs them one at a time on its callback goroutine, and its reader waits for publication
// handlers, so a blocking handler would stall (or, with SDK calls, deadlock) the client.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge-go"
)

// wait bounds every wait of the driver.
const wait = 60 * time.Second

// warmUp is the number of untimed calls before a round-trip measurement.
const warmUp = 200

// How long idle waits after the last connect before it measures.
const settle = time.Second

func main() {
	a := argsFromCommandLine()
	switch a.scenario {
	case "ingest":
		ingest(a)
	case "roundtrip":
		roundtrip(a)
	case "pipelined":
		pipelined(a)
	case "fanin":
		fanin(a)
	case "idle":
		idle(a)
	default:
		fail("unsupported scenario " + a.scenario)
	}
}

// newClient creates an anonymous client (no token) speaking the format= of the arguments.
// Errors the SDK reports go to stderr, so a run that times out says why.
func newClient(a args) *centrifuge.Client {
	var client *centrifuge.Client
	switch format := a.text("format"); format {
	case "json":
		client = centrifuge.NewJsonClient(a.text("url"), centrifuge.Config{})
	case "protobuf":
		client = centrifuge.NewProtobufClient(a.text("url"), centrifuge.Config{})
	default:
		fail(fmt.Sprintf("format=%s: expected json or protobuf", format))
	}
	client.OnError(func(event centrifuge.ErrorEvent) {
		fmt.Fprintf(os.Stderr, "client error: %v\n", event.Error)
	})
	return client
}

// connected returns a client once it has connected.
func connected(a args) *centrifuge.Client {
	client := newClient(a)
	done := signal()
	client.OnConnected(func(centrifuge.ConnectedEvent) { notify(done) })
	if err := client.Connect(); err != nil {
		fail(fmt.Sprintf("connect: %v", err))
	}
	await(done, "connection")
	return client
}

func ingest(a args) {
	count := a.number("count")
	cpuStart := cpuTime()
	client := newClient(a)
	subscribed, first, last := signal(), signal(), signal()
	sub, err := client.NewSubscription(a.text("channel"))
	if err != nil {
		fail(fmt.Sprintf("new subscription: %v", err))
	}
	var seen atomic.Uint64
	sub.OnPublication(func(centrifuge.PublicationEvent) {
		n := seen.Add(1)
		if n == 1 {
			notify(first)
		}
		if n == count {
			notify(last)
		}
	})
	sub.OnSubscribed(func(centrifuge.SubscribedEvent) { notify(subscribed) })
	// Subscribing before connecting sends the subscribe right after the connect, as the Rust
	// driver does.
	if err := sub.Subscribe(); err != nil {
		fail(fmt.Sprintf("subscribe: %v", err))
	}
	if err := client.Connect(); err != nil {
		fail(fmt.Sprintf("connect: %v", err))
	}
	await(subscribed, "subscribed")
	printReady()
	started := await(first, "the first publication")
	ended := await(last, "the last publication")
	cpu := cpuTime() - cpuStart
	printResult(map[string]any{
		"count":   count,
		"wall_s":  ended.Sub(started).Seconds(),
		"cpu_s":   cpu.Seconds(),
		"rss_kib": rssKiB(),
	})
	client.Close()
}

func roundtrip(a args) {
	count := int(a.number("count"))
	client := connected(a)
	channel := a.text("channel")
	payload := []byte("{}")
	// The SDK bounds every call by its ReadTimeout (5 s by default), so a plain background
	// context keeps each wait bounded without a timer of our own per call.
	ctx := context.Background()
	var call func() error
	switch op := a.text("op"); op {
	case "rpc":
		call = func() error { _, err := client.RPC(ctx, "ping", payload); return err }
	case "publish":
		call = func() error { _, err := client.Publish(ctx, channel, payload); return err }
	default:
		fail(fmt.Sprintf("op=%s: expected rpc or publish", op))
	}
	for range warmUp {
		if err := call(); err != nil {
			fail(fmt.Sprintf("warm-up call failed: %v", err))
		}
	}
	cpuStart := cpuTime()
	started := time.Now()
	samples := make([]time.Duration, 0, count)
	for range count {
		sent := time.Now()
		if err := call(); err != nil {
			fail(fmt.Sprintf("call failed: %v", err))
		}
		samples = append(samples, time.Since(sent))
	}
	wall := time.Since(started)
	cpu := cpuTime() - cpuStart
	p50, p99 := percentiles(samples)
	printResult(map[string]any{
		"count": count, "p50_us": p50, "p99_us": p99,
		"wall_s": wall.Seconds(), "cpu_s": cpu.Seconds(),
	})
	client.Close()
}

func pipelined(a args) {
	count := a.number("count")
	workers := int(a.number("workers"))
	client := connected(a)
	channel := a.text("channel")
	// Each worker takes the next publish number from here until count are taken.
	var issued atomic.Uint64
	var done sync.WaitGroup
	cpuStart, wakeupsStart := cpuTime(), wakeups()
	started := time.Now()
	for range workers {
		done.Go(func() { publishUntil(client, channel, &issued, count) })
	}
	done.Wait()
	wall := time.Since(started)
	cpu := cpuTime() - cpuStart
	printResult(map[string]any{
		"count": count, "wall_s": wall.Seconds(), "cpu_s": cpu.Seconds(),
		"msgs_per_s": float64(count) / wall.Seconds(), "wakeups": wakeups() - wakeupsStart,
	})
	client.Close()
}

// publishUntil is one pipelined worker: it publishes {"n":<i>} and waits for the reply before
// its next publish, until count publishes have been taken by all workers together.
func publishUntil(client *centrifuge.Client, channel string, issued *atomic.Uint64, count uint64) {
	// Bounded by the SDK's ReadTimeout, as in roundtrip.
	ctx := context.Background()
	for {
		n := issued.Add(1) - 1
		if n >= count {
			return
		}
		// A fresh buffer per publish, like the Rust driver's format!: the SDK does not say when
		// it is done with the data it was given.
		data := strconv.AppendUint(append(make([]byte, 0, 32), `{"n":`...), n, 10)
		data = append(data, '}')
		if _, err := client.Publish(ctx, channel, data); err != nil {
			fail(fmt.Sprintf("publish failed: %v", err))
		}
	}
}

func fanin(a args) {
	channels := a.number("channels")
	prefix := a.text("prefix")
	rssBase := rssKiB()
	client := connected(a)
	done := signal()
	var subscribed atomic.Uint64
	onSubscribed := func(centrifuge.SubscribedEvent) {
		if subscribed.Add(1) == channels {
			notify(done)
		}
	}
	cpuStart := cpuTime()
	started := time.Now()
	subs := make([]*centrifuge.Subscription, 0, channels)
	for n := range channels {
		sub, err := client.NewSubscription(prefix + strconv.FormatUint(n, 10))
		if err != nil {
			fail(fmt.Sprintf("new subscription: %v", err))
		}
		sub.OnSubscribed(onSubscribed)
		// On a connected client Subscribe sends the subscribe command at once; the reply
		// arrives later as an OnSubscribed event.
		if err := sub.Subscribe(); err != nil {
			fail(fmt.Sprintf("subscribe: %v", err))
		}
		subs = append(subs, sub)
	}
	ended := await(done, "every subscription")
	cpu := cpuTime() - cpuStart
	printResult(map[string]any{
		"channels": channels, "wall_s": ended.Sub(started).Seconds(), "cpu_s": cpu.Seconds(),
		"rss_kib": rssKiB(), "rss_base_kib": rssBase,
	})
	client.Close()
}

func idle(a args) {
	clients := int(a.number("clients"))
	seconds := a.number("seconds")
	rssBase := rssKiB()
	// Room for every client's event, so no handler ever blocks on it.
	connectedEvents := make(chan struct{}, clients)
	all := make([]*centrifuge.Client, 0, clients)
	for range clients {
		client := newClient(a)
		client.OnConnected(func(centrifuge.ConnectedEvent) {
			select {
			case connectedEvents <- struct{}{}:
			default:
			}
		})
		if err := client.Connect(); err != nil {
			fail(fmt.Sprintf("connect: %v", err))
		}
		all = append(all, client)
	}
	for range clients {
		select {
		case <-connectedEvents:
		case <-time.After(wait):
			fail("not every client connected")
		}
	}
	// Let every goroutine finish its connect work first: idle means idle.
	time.Sleep(settle)
	cpuStart, wakeupsStart := cpuTime(), wakeups()
	time.Sleep(time.Duration(seconds) * time.Second)
	cpu, woken := cpuTime()-cpuStart, wakeups()-wakeupsStart
	printResult(map[string]any{
		"clients": clients, "seconds": seconds, "cpu_s": cpu.Seconds(), "wakeups": woken,
		"rss_kib": rssKiB(), "rss_base_kib": rssBase, "threads": threads(),
	})
	for _, client := range all {
		client.Close()
	}
}

// signal carries the moment something happened, once.
func signal() chan time.Time {
	return make(chan time.Time, 1)
}

// notify records now on s without ever blocking (it is called from SDK handlers); only the
// first moment is kept.
func notify(s chan time.Time) {
	select {
	case s <- time.Now():
	default:
	}
}

// await returns the moment s recorded, or fails after the driver's bounded wait.
func await(s chan time.Time, what string) time.Time {
	select {
	case at := <-s:
		return at
	case <-time.After(wait):
		fail(fmt.Sprintf("no %s within %v", what, wait))
		return time.Time{}
	}
}
