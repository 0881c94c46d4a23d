package brokertest

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// WaitGoroutines waits (at most WaitTimeout) until no more goroutines run
// than before (a runtime.NumGoroutine taken before the brokers were
// created), and fails the test with every goroutine's stack if they do
// not come down to it: a closed broker must end every goroutine it
// started, its client library's included.
func WaitGoroutines(tb testing.TB, before int) {
	tb.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		now := runtime.NumGoroutine()
		if now <= before {
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			tb.Fatalf("%d goroutines %v after Close; %d before:\n%s", now, WaitTimeout, before, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
