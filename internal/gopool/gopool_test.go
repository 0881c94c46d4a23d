package gopool_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/gopool"
)

// Every task runs, concurrently when they overlap, and the workers end
// once idle for the linger time.
func TestTasksRunAndWorkersEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	p := gopool.New(20 * time.Millisecond)
	var ran atomic.Int64
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 10 { // ten tasks at once: none may wait for another
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release; ran.Add(1) })
	}
	close(release)
	wg.Wait()
	for range 1000 { // one after another: reusing idle workers
		wg.Add(1)
		p.Go(func() { defer wg.Done(); ran.Add(1) })
		wg.Wait()
	}
	if ran.Load() != 1010 {
		t.Fatalf("ran %d tasks; want 1010", ran.Load())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the linger; %d before", n, before)
	}
}

// A worker that is reused keeps its stack: sequential deep tasks on a
// pool grow a stack once, not once per task.
func BenchmarkDeepTask(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		var wg sync.WaitGroup
		for b.Loop() {
			wg.Add(1)
			go func() { defer wg.Done(); deep(64) }()
			wg.Wait()
		}
	})
	b.Run("pool", func(b *testing.B) {
		p := gopool.New(time.Second)
		var wg sync.WaitGroup
		for b.Loop() {
			wg.Add(1)
			p.Go(func() { defer wg.Done(); deep(64) })
			wg.Wait()
		}
	})
}

//go:noinline
func deep(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deep(n-1) + int(pad[n%256])
}
