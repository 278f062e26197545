// Command goleaks leaks goroutines at known sites, beside healthy long-lived goroutines, so
// that Vigil's goroutine snapshots and leak detection can be checked against what it says.
//
// Each leaking site is a function named after the site (main.leakChanSend, ...) that starts a
// goroutine every 1/rate seconds which parks forever. At each leak the status file is rewritten
// (atomically) with one line per site, "leaked SITE COUNT", after a first line "started UNIXNANO"
// giving when the sites started (-leak-after delays them); stdout gets the same once a second.
// Healthy goroutines: an idle worker pool on a job channel, ticker loops, an HTTP server on
// 127.0.0.1 with a client, and short-lived churn. The program exits after -duration.
//
// It must build with Go 1.19 and every later release: no newer standard library APIs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

var (
	duration   = flag.Duration("duration", 30*time.Second, "run this long, then exit")
	rate       = flag.Int("rate", 10, "goroutines leaked per second at each site")
	statusPath = flag.String("status", "", "file rewritten with 'leaked SITE COUNT' lines")
	park       = flag.Int("park", 0, "only park this many goroutines on a channel (benchmark mode)")
	leakAfter  = flag.Duration("leak-after", 0, "start the leaking sites only after this long")
)

var (
	countsMu sync.Mutex
	counts   = map[string]int{}
	// The first line of every report once the sites leak: "started UNIXNANO".
	startedLine string
)

// leaked counts one more goroutine leaked at site and rewrites the status file at once, so
// the file never lags behind the leaks (whatever the scheduler does to other goroutines).
func leaked(site string) {
	countsMu.Lock()
	defer countsMu.Unlock()
	counts[site]++
	writeStatus(reportLocked())
}

// pause waits between two leaks of one site.
func pause() { time.Sleep(time.Second / time.Duration(*rate)) }

// Leaking sites: each creates its goroutines itself, so it is their creation function.

var unbuffered = make(chan int)

//go:noinline
func leakChanSend() {
	for {
		go blockedSend(unbuffered)
		leaked("leakChanSend")
		pause()
	}
}

//go:noinline
func blockedSend(ch chan int) { ch <- 1 }

var neverClosed = make(chan int)

//go:noinline
func leakRange() {
	for {
		go rangeForever(neverClosed)
		leaked("leakRange")
		pause()
	}
}

//go:noinline
func rangeForever(ch chan int) {
	for v := range ch {
		_ = v
	}
}

var silentA, silentB = make(chan int), make(chan string)

//go:noinline
func leakSelect() {
	for {
		go selectForever(silentA, silentB)
		leaked("leakSelect")
		pause()
	}
}

//go:noinline
func selectForever(a chan int, b chan string) {
	select {
	case <-a:
	case <-b:
	}
}

var cond = sync.NewCond(&sync.Mutex{})

//go:noinline
func leakCondWait() {
	for {
		go waitCond(cond)
		leaked("leakCondWait")
		pause()
	}
}

//go:noinline
func waitCond(c *sync.Cond) {
	c.L.Lock()
	c.Wait()
	c.L.Unlock()
}

var neverCancelled, cancelNever = context.WithCancel(context.Background())

//go:noinline
func leakContext() {
	for {
		go waitContext(neverCancelled)
		leaked("leakContext")
		pause()
	}
}

//go:noinline
func waitContext(ctx context.Context) { <-ctx.Done() }

//go:noinline
func leakNilSend() {
	for {
		go sendNil()
		leaked("leakNilSend")
		pause()
	}
}

//go:noinline
func sendNil() {
	var ch chan int
	ch <- 1
}

var held sync.Mutex

//go:noinline
func leakMutex() {
	for {
		go lockForever(&held)
		leaked("leakMutex")
		pause()
	}
}

//go:noinline
func lockForever(mu *sync.Mutex) {
	mu.Lock()
	mu.Unlock()
}

// Healthy goroutines.

//go:noinline
func startPool(jobs chan int, workers int) {
	for i := 0; i < workers; i++ {
		go poolWorker(jobs)
	}
}

//go:noinline
func poolWorker(jobs chan int) {
	for job := range jobs {
		_ = job * 2
	}
}

//go:noinline
func feedPool(jobs chan int) {
	for i := 0; ; i++ {
		time.Sleep(300 * time.Millisecond)
		jobs <- i
	}
}

//go:noinline
func tickerLoop(period time.Duration) {
	ticker := time.NewTicker(period)
	for range ticker.C {
	}
}

//go:noinline
func churn() {
	done := make(chan int, 1)
	for {
		go func() {
			time.Sleep(5 * time.Millisecond)
			done <- 1
		}()
		<-done
		time.Sleep(10 * time.Millisecond)
	}
}

//go:noinline
func serveHTTP() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	go http.Serve(listener, handler)
	return "http://" + listener.Addr().String() + "/", nil
}

//go:noinline
func httpClient(url string) {
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 5; i++ {
		response, err := client.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "http:", err)
			return
		}
		io.Copy(io.Discard, response.Body)
		response.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
}

func report() string {
	countsMu.Lock()
	defer countsMu.Unlock()
	return reportLocked()
}

func reportLocked() string {
	var lines []string
	for site, count := range counts {
		lines = append(lines, fmt.Sprintf("leaked %s %d\n", site, count))
	}
	sort.Strings(lines)
	return startedLine + strings.Join(lines, "")
}

func writeStatus(text string) {
	if *statusPath == "" {
		return
	}
	temporary := *statusPath + ".tmp"
	if err := os.WriteFile(temporary, []byte(text), 0o644); err == nil {
		os.Rename(temporary, *statusPath)
	}
}

//go:noinline
func parkMany(n int) {
	block := make(chan int)
	for i := 0; i < n; i++ {
		go blockedSend(block)
	}
	writeStatus(fmt.Sprintf("parked %d\n", n))
	time.Sleep(*duration)
}

func main() {
	flag.Parse()
	_ = cancelNever
	if *park > 0 {
		parkMany(*park)
		return
	}
	if *rate < 1 {
		*rate = 1
	}
	held.Lock()

	jobs := make(chan int)
	startPool(jobs, 8)
	go feedPool(jobs)
	for _, period := range []time.Duration{50 * time.Millisecond, 200 * time.Millisecond} {
		go tickerLoop(period)
	}
	go churn()
	url, err := serveHTTP()
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	httpClient(url)

	time.Sleep(*leakAfter)
	countsMu.Lock()
	startedLine = fmt.Sprintf("started %d\n", time.Now().UnixNano())
	writeStatus(reportLocked())
	countsMu.Unlock()
	go leakChanSend()
	go leakRange()
	go leakSelect()
	go leakCondWait()
	go leakContext()
	go leakNilSend()
	go leakMutex()

	deadline := time.Now().Add(*duration)
	lastPrint := time.Now()
	for time.Now().Before(deadline) {
		if time.Since(lastPrint) >= time.Second {
			fmt.Print(report())
			lastPrint = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}
