// Command gopingpong bounces a token between two goroutines over unbuffered channels as fast
// as it can, beside -park goroutines parked forever (so that a snapshot has work to do), and
// prints "UNIXNANO ROUNDTRIPS" (the running total) every -report interval, so that a watcher
// can compute its round-trip rate over any window. It exits after -duration.
//
// It must build with Go 1.19 and every later release.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

var (
	duration = flag.Duration("duration", 60*time.Second, "run this long, then exit")
	report   = flag.Duration("report", 100*time.Millisecond, "print the round-trip total this often")
	park     = flag.Int("park", 0, "goroutines parked forever on a channel")
)

var roundTrips uint64

//go:noinline
func ponger(ping, pong chan int) {
	for v := range ping {
		pong <- v
	}
}

//go:noinline
func pinger(ping, pong chan int) {
	for i := 0; ; i++ {
		ping <- i
		<-pong
		atomic.AddUint64(&roundTrips, 1)
	}
}

//go:noinline
func parked(ch chan int) { ch <- 1 }

func main() {
	flag.Parse()
	block := make(chan int)
	for i := 0; i < *park; i++ {
		go parked(block)
	}
	ping, pong := make(chan int), make(chan int)
	go ponger(ping, pong)
	go pinger(ping, pong)
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(*duration)
	ticker := time.NewTicker(*report)
	defer ticker.Stop()
	for now := range ticker.C {
		fmt.Fprintf(out, "%d %d\n", now.UnixNano(), atomic.LoadUint64(&roundTrips))
		out.Flush()
		if now.After(deadline) {
			return
		}
	}
}
