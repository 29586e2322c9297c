package tensor

import (
	"fmt"
	"runtime"
	"sync"
)

// Pool is a persistent set of worker goroutines that kernels split their
// work across, plus the scratch memory MatMul needs, so that a steady
// stream of calls neither starts goroutines nor allocates.
//
// A nil *Pool is valid and runs everything on the calling goroutine.
// A Pool serves one caller at a time: its methods must not be called
// concurrently. Close it when done to stop its goroutines.
type Pool struct {
	tasks  []chan task // one per worker; the caller is the extra thread
	wg     sync.WaitGroup
	panics []any // a panic value from each worker's last task

	scratch []byte    // converted activations for MatMul
	mm      matmulJob // the MatMul in progress
	// Bound once so that passing them to Run does not allocate.
	mmRows, mmConvert func(lo, hi int)
}

type task struct {
	fn     func(lo, hi int)
	lo, hi int
}

// NewPool starts a pool of the given number of threads, counting the
// caller, which always does a share of the work. threads <= 0 means
// runtime.GOMAXPROCS(0); 1 starts no goroutines.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{
		tasks:  make([]chan task, threads-1),
		panics: make([]any, threads-1),
	}
	p.mmRows = p.mm.rows
	p.mmConvert = p.mm.convert
	for k := range p.tasks {
		ch := make(chan task, 1)
		p.tasks[k] = ch
		go p.worker(k, ch)
	}
	return p
}

// Threads returns the number of threads Run splits work across: 1 for a
// nil or closed pool.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return len(p.tasks) + 1
}

// Close stops the pool's goroutines. Afterwards the pool runs work on the
// calling goroutine only. Close is idempotent.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	for _, ch := range p.tasks {
		close(ch)
	}
	p.tasks = nil
	p.panics = nil
}

// Run calls fn over [0, n) split into one contiguous range per thread, of
// sizes differing by at most one so that all finish together, and returns
// when every call has returned. The caller runs the first range. A panic
// in any range is raised again in the caller after all ranges finish.
// fn must not call Run on the same pool.
func (p *Pool) Run(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	t := min(p.Threads(), n)
	if t == 1 {
		fn(0, n)
		return
	}
	p.wg.Add(t - 1)
	for k := 1; k < t; k++ {
		p.tasks[k-1] <- task{fn, n * k / t, n * (k + 1) / t}
	}
	own := runCatching(fn, 0, n/t)
	p.wg.Wait()
	if own != nil {
		p.clearPanics()
		panic(own)
	}
	for k, v := range p.panics {
		if v != nil {
			p.clearPanics()
			panic(fmt.Sprintf("tensor: pool worker %d: %v", k+1, v))
		}
	}
}

func (p *Pool) clearPanics() { clear(p.panics) }

func (p *Pool) worker(k int, tasks <-chan task) {
	for t := range tasks {
		p.panics[k] = runCatching(t.fn, t.lo, t.hi)
		p.wg.Done()
	}
}

// runCatching calls fn(lo, hi) and returns the value it panicked with, if
// any, so that a panic never leaves Run waiting for a worker.
func runCatching(fn func(lo, hi int), lo, hi int) (v any) {
	defer func() { v = recover() }()
	fn(lo, hi)
	return nil
}

// buffer returns n bytes of the pool's scratch space, growing it if
// needed. The contents are unspecified. A nil pool allocates.
func (p *Pool) buffer(n int) []byte {
	if p == nil {
		return make([]byte, n)
	}
	if cap(p.scratch) < n {
		p.scratch = make([]byte, n)
	}
	return p.scratch[:n]
}
