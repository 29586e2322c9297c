package tensor

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a persistent set of worker goroutines that kernels split their
// work across, plus the scratch memory MatMul needs, so that a steady
// stream of calls neither starts goroutines nor allocates.
//
// A forward pass is hundreds of short operations in a row, each split
// across the threads. Waking a parked thread costs tens of microseconds
// on a virtual machine, as much as a whole small matmul, so between
// operations the workers spin for a while (as llama.cpp's threads do)
// before they park, and so does the caller waiting for them. On the
// virtual machines measured, a wake-up can cost milliseconds, so the spin
// covers not just the gaps inside a forward pass but those between the
// decode steps of a server (sampling, scheduling, streaming). Spinning
// workers yield their processor every few tens of microseconds so that
// the process's other goroutines still run. Spinning happens only when
// every thread can have a processor of its own (threads <= GOMAXPROCS).
//
// A nil *Pool is valid and runs everything on the calling goroutine.
// A Pool serves one caller at a time: its methods must not be called
// concurrently. Close it when done to stop its goroutines.
type Pool struct {
	workers int           // goroutines besides the caller
	spin    time.Duration // how long an idle worker spins before parking

	gen  atomic.Uint32 // bumped by Run to hand out p.job; workers wait for a change
	left atomic.Int32  // workers that have not finished the current job
	job  poolJob       // written only while no worker reads it

	// Parking: a worker parks on wake after spinning; Run broadcasts
	// when any worker is parked. The caller parks on done, and the last
	// worker to finish signals it.
	mu       sync.Mutex
	wake     *sync.Cond
	done     *sync.Cond
	parked   atomic.Int32
	awaiting atomic.Bool  // the caller is parked on done
	holds    atomic.Int32 // Hold calls not yet Released: spin, never park
	closed   atomic.Bool
	exited   sync.WaitGroup

	panics []any // a panic value from each worker's last task

	scratch []byte    // converted activations for MatMul
	mm      matmulJob // the MatMul in progress
	// Bound once so that passing them to Run does not allocate.
	mmRows, mmConvert func(lo, hi int)
}

// poolJob is one Run: fn over [0, n) in t ranges.
type poolJob struct {
	fn   func(lo, hi int)
	n, t int
}

// poolSpin is how long idle workers, and the caller waiting for them,
// spin before parking: long enough to cover the gaps between the
// operations of a forward pass and between a server's steps, short
// enough that an idle pool soon leaves the CPU to others.
const poolSpin = 2 * time.Millisecond

// poolYield is how often a spinning worker yields its processor.
const poolYield = 100 * time.Microsecond

// NewPool starts a pool of the given number of threads, counting the
// caller, which always does a share of the work. threads <= 0 means
// runtime.GOMAXPROCS(0); 1 starts no goroutines.
func NewPool(threads int) *Pool {
	procs := runtime.GOMAXPROCS(0)
	if threads <= 0 {
		threads = procs
	}
	p := &Pool{
		workers: threads - 1,
		panics:  make([]any, threads-1),
	}
	if threads <= procs {
		p.spin = poolSpin
	}
	p.wake = sync.NewCond(&p.mu)
	p.done = sync.NewCond(&p.mu)
	p.mmRows = p.mm.rows
	p.mmConvert = p.mm.convert
	p.exited.Add(p.workers)
	for k := 1; k <= p.workers; k++ {
		go p.worker(k)
	}
	return p
}

// Threads returns the number of threads Run splits work across: 1 for a
// nil or closed pool.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.workers + 1
}

// Hold keeps the workers spinning between jobs, never parking, until the
// matching Release: for a caller about to run many forward passes with
// short gaps of other work between them (a server's steps, a generation
// loop). Without it workers park after a short spin, and on virtual
// machines waking a parked thread can cost milliseconds. Hold and Release
// nest; a nil pool ignores them.
func (p *Pool) Hold() {
	if p != nil {
		p.holds.Add(1)
	}
}

// Release undoes one Hold.
func (p *Pool) Release() {
	if p != nil {
		p.holds.Add(-1)
	}
}

// Close stops the pool's goroutines and waits for them to exit.
// Afterwards the pool runs work on the calling goroutine only. Close is
// idempotent.
func (p *Pool) Close() {
	if p == nil || p.workers == 0 {
		return
	}
	p.closed.Store(true)
	p.gen.Add(1)
	p.mu.Lock()
	p.wake.Broadcast()
	p.mu.Unlock()
	p.exited.Wait()
	p.workers = 0
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
	// The job is published by the atomic increment of gen: a worker that
	// sees the new generation sees the job.
	p.job = poolJob{fn: fn, n: n, t: t}
	p.left.Store(int32(p.workers))
	p.gen.Add(1)
	woke := p.parked.Load() > 0
	if woke {
		p.mu.Lock()
		p.wake.Broadcast()
		p.mu.Unlock()
	}
	own := runCatching(fn, 0, n/t)
	p.awaitWorkers(woke)
	p.job = poolJob{}
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

// awaitWorkers returns when every worker has finished the current job,
// spinning for up to p.spin and then parking. After waking parked workers
// it parks at once: a woken worker is queued on this goroutine's
// processor, and spinning here would keep it from running.
func (p *Pool) awaitWorkers(woke bool) {
	if p.spin > 0 && !woke {
		start := time.Now()
		// No yielding here: a yield would let a worker queued on this
		// goroutine's processor run there, and the two could go on
		// taking turns on one processor while the other idles.
		for i := 1; p.left.Load() != 0; i++ {
			if i%1024 == 0 && time.Since(start) > p.spin {
				break
			}
		}
		if p.left.Load() == 0 {
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// As with parked workers: the caller says it waits before it reads
	// left, the last worker decrements left before it reads awaiting.
	p.awaiting.Store(true)
	defer p.awaiting.Store(false)
	for p.left.Load() != 0 {
		p.done.Wait()
	}
}

// worker k runs range k of every job until the pool closes.
func (p *Pool) worker(k int) {
	defer p.exited.Done()
	// Generation 0 is the pool's start, before any job: reading gen here
	// instead could miss a job handed out before this goroutine ran.
	var seen uint32
	for {
		seen = p.await(seen)
		if p.closed.Load() {
			return
		}
		if j := p.job; k < j.t {
			p.panics[k-1] = runCatching(j.fn, j.n*k/j.t, j.n*(k+1)/j.t)
		}
		if p.left.Add(-1) == 0 && p.awaiting.Load() {
			p.mu.Lock()
			p.done.Signal()
			p.mu.Unlock()
		}
	}
}

// await returns the first generation other than seen, spinning for up to
// p.spin and then parking.
func (p *Pool) await(seen uint32) uint32 {
	if p.spin > 0 {
		start := time.Now()
		yielded := start
		for i := 1; ; i++ {
			if g := p.gen.Load(); g != seen {
				return g
			}
			if i%4096 == 0 {
				// Now and then let other goroutines of the process (an
				// HTTP server's, say) run; give up after p.spin.
				now := time.Now()
				if p.holds.Load() > 0 {
					start = now
				} else if now.Sub(start) > p.spin {
					break
				}
				if now.Sub(yielded) > poolYield {
					runtime.Gosched()
					yielded = now
				}
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Run bumps gen before it reads parked, and a parking worker counts
	// itself before it reads gen, so one of the two sees the other: no
	// wake-up is lost.
	p.parked.Add(1)
	defer p.parked.Add(-1)
	for {
		if g := p.gen.Load(); g != seen {
			return g
		}
		p.wake.Wait()
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
