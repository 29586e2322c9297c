package tensor

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPoolRunSplits(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 4} {
		p := NewPool(threads)
		if got := p.Threads(); got != threads {
			t.Errorf("NewPool(%d).Threads() = %d", threads, got)
		}
		for _, n := range []int{0, 1, 2, 3, 5, 7, 100, 1001} {
			var mu sync.Mutex
			var ranges [][2]int
			p.Run(n, func(lo, hi int) {
				mu.Lock()
				ranges = append(ranges, [2]int{lo, hi})
				mu.Unlock()
			})
			slices.SortFunc(ranges, func(a, b [2]int) int { return a[0] - b[0] })
			if want := min(threads, n); len(ranges) != want {
				t.Fatalf("threads %d, n %d: %d ranges %v, want %d", threads, n, len(ranges), ranges, want)
			}
			next := 0
			minSize, maxSize := n, 0
			for _, r := range ranges {
				if r[0] != next || r[1] <= r[0] {
					t.Fatalf("threads %d, n %d: ranges %v do not tile [0, %d)", threads, n, ranges, n)
				}
				next = r[1]
				minSize, maxSize = min(minSize, r[1]-r[0]), max(maxSize, r[1]-r[0])
			}
			if next != n || n > 0 && maxSize-minSize > 1 {
				t.Fatalf("threads %d, n %d: ranges %v uneven or short", threads, n, ranges)
			}
		}
		p.Close()
	}
}

// TestPoolRunsConcurrently makes every range wait for all the others: it
// finishes only if the ranges really run at the same time.
func TestPoolRunsConcurrently(t *testing.T) {
	const threads = 3
	p := NewPool(threads)
	defer p.Close()
	var arrived sync.WaitGroup
	arrived.Add(threads)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	timedOut := make(chan bool, threads)
	p.Run(threads, func(lo, hi int) {
		arrived.Done()
		select {
		case <-all:
			timedOut <- false
		case <-time.After(10 * time.Second):
			timedOut <- true
		}
	})
	for range threads {
		if <-timedOut {
			t.Fatal("pool ranges did not run concurrently")
		}
	}
}

func TestPoolPanics(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	for _, bad := range []int{0, 1, 2} { // the caller's range and two workers'
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			p.Run(3, func(lo, hi int) {
				if lo == bad {
					panic(fmt.Sprintf("boom %d", bad))
				}
			})
			return "no panic"
		}()
		if !strings.Contains(msg, fmt.Sprintf("boom %d", bad)) {
			t.Errorf("panic in range %d: Run raised %q", bad, msg)
		}
		// The pool must still work afterwards.
		var mu sync.Mutex
		sum := 0
		p.Run(10, func(lo, hi int) {
			mu.Lock()
			sum += hi - lo
			mu.Unlock()
		})
		if sum != 10 {
			t.Fatalf("after a panic, Run covered %d of 10", sum)
		}
	}
}

func TestPoolNilAndClose(t *testing.T) {
	var nilPool *Pool
	if nilPool.Threads() != 1 {
		t.Errorf("nil pool Threads() = %d", nilPool.Threads())
	}
	calls := 0
	nilPool.Run(5, func(lo, hi int) {
		calls++
		if lo != 0 || hi != 5 {
			t.Errorf("nil pool ran [%d, %d)", lo, hi)
		}
	})
	if calls != 1 {
		t.Errorf("nil pool made %d calls", calls)
	}
	nilPool.Close()

	p := NewPool(4)
	p.Close()
	p.Close() // idempotent
	if p.Threads() != 1 {
		t.Errorf("closed pool Threads() = %d", p.Threads())
	}
	calls = 0
	p.Run(8, func(lo, hi int) { calls++ })
	if calls != 1 {
		t.Errorf("closed pool made %d calls", calls)
	}

	def := NewPool(0)
	defer def.Close()
	if def.Threads() != runtime.GOMAXPROCS(0) {
		t.Errorf("NewPool(0).Threads() = %d, want GOMAXPROCS %d", def.Threads(), runtime.GOMAXPROCS(0))
	}
}

func TestPoolRunNoAllocs(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var sums [2]int
	fn := func(lo, hi int) {
		k := 0
		if lo > 0 {
			k = 1
		}
		sums[k] += hi - lo
	}
	if a := testing.AllocsPerRun(100, func() { p.Run(64, fn) }); a != 0 {
		t.Errorf("Run allocates %v times per call", a)
	}
	if sums[0]+sums[1] != 64*101 {
		t.Errorf("Run covered %d, want %d", sums[0]+sums[1], 64*101)
	}
}
