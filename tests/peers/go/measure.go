// The driver side of the contract in tests/peers/README.md: key=value arguments, the
// process's own CPU, wake-ups, memory and threads, and the RESULT line. It mirrors
// tests/peers/runner/src/driver.rs so that every participant measures itself the same way.

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// args is the scenario and its key=value arguments.
type args struct {
	scenario string
	values   map[string]string
}

// argsFromCommandLine reads the process's arguments; it exits with a message when they are
// malformed.
func argsFromCommandLine() args {
	if len(os.Args) < 2 {
		fail("usage: driver-go <scenario> key=value ...")
	}
	parsed := args{scenario: os.Args[1], values: map[string]string{}}
	for _, arg := range os.Args[2:] {
		key, value, ok := strings.Cut(arg, "=")
		if !ok {
			fail(fmt.Sprintf("argument %q is not key=value", arg))
		}
		parsed.values[key] = value
	}
	return parsed
}

// text is a required string argument.
func (a args) text(key string) string {
	value, ok := a.values[key]
	if !ok {
		fail(fmt.Sprintf("missing argument %s=", key))
	}
	return value
}

// number is a required whole-number argument.
func (a args) number(key string) uint64 {
	value, err := strconv.ParseUint(a.text(key), 10, 64)
	if err != nil {
		fail(fmt.Sprintf("%s= must be a whole number", key))
	}
	return value
}

// fail prints why on stderr and exits with status 1.
func fail(why string) {
	fmt.Fprintln(os.Stderr, why)
	os.Exit(1)
}

// printResult prints the RESULT line. Keys come out sorted, as from the Rust driver.
func printResult(fields map[string]any) {
	encoded, err := json.Marshal(fields)
	if err != nil {
		fail(fmt.Sprintf("cannot encode the result: %v", err))
	}
	// os.Stdout is unbuffered in Go, so the runner sees each line at once.
	fmt.Printf("RESULT %s\n", encoded)
}

// printReady prints a READY line.
func printReady() {
	fmt.Println("READY")
}

// usage is getrusage(RUSAGE_SELF): every thread of the process, also those that ended.
func usage() syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(fmt.Sprintf("getrusage: %v", err))
	}
	return ru
}

// cpuTime is user + system CPU time of this process so far.
func cpuTime() time.Duration {
	ru := usage()
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wakeups counts voluntary and involuntary context switches of this process so far: how often
// its threads went to sleep or were preempted.
func wakeups() int64 {
	ru := usage()
	return ru.Nvcsw + ru.Nivcsw
}

// rssKiB is the resident memory of this process (VmRSS), KiB; 0 if it cannot be read.
func rssKiB() uint64 {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer file.Close()
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "VmRSS:"); ok {
			kib, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kib
		}
	}
	return 0
}

// threads counts the OS threads of this process (not goroutines).
func threads() int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(tasks)
}

// percentiles returns the median and 99th percentile of samples in microseconds, picked
// the same way as the Rust drivers (nearest rank on the sorted samples).
func percentiles(samples []time.Duration) (float64, float64) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(fraction float64) float64 {
		if len(samples) == 0 {
			return 0
		}
		index := int(float64(len(samples)-1)*fraction + 0.5)
		return float64(samples[index].Nanoseconds()) / 1e3
	}
	return at(0.50), at(0.99)
}
