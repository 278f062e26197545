//go:build go1.27

package main

import (
	"io"
	"os"
	"runtime/pprof"
	"time"
)

// With VIGIL_GOLEAKS_PROFILE=1 on Go 1.27+, the runtime's own leak detector runs every
// 500 ms (collecting the goroutineleak profile), so goroutines it proves leaked are marked
// _Gleaked in memory.
func init() {
	if os.Getenv("VIGIL_GOLEAKS_PROFILE") != "1" {
		return
	}
	go func() {
		for {
			time.Sleep(500 * time.Millisecond)
			if profile := pprof.Lookup("goroutineleak"); profile != nil {
				profile.WriteTo(io.Discard, 0)
			}
		}
	}()
}
