package cloudstack

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// lane is a class of requests waiting for the client's rate limit.
type lane int

const (
	// finishLane holds requests that finish or observe work already started: job and VM listings, tags, destroys,
	// reads of every kind.
	finishLane lane = iota
	// startLane holds requests that start new work: deploys.
	startLane
)

// laneOf puts deploys in the start lane and every other command in the finish lane. A burst of pending pods queues
// hundreds of deploys; with one first-come queue each listing that would tell a launch its VM runs (and each tagging
// call) waited behind every deploy queued before it, so NodeClaims were Launched only once the last deploy was sent:
// 242 of 250 VMs ran while 10 NodeClaims were Launched (make scale, 500 pods, instant jobs).
func laneOf(command string) lane {
	if command == "deployVirtualMachine" {
		return startLane
	}
	return finishLane
}

// finishStreakMax is how many tokens in a row may go to the finish lane while deploys wait: at least one token in
// finishStreakMax+1 starts new work, so that a flood of reads (an outage's recovery, a controller's bug) slows
// launches but cannot stop them.
const finishStreakMax = 4

// lanes hands out the tokens of the client's rate limit, the finish lane first. The rate limit is unchanged; only the
// order in which waiting requests get its tokens is.
type lanes struct {
	bucket *rate.Limiter

	mu      sync.Mutex
	queues  [2][]*laneWaiter
	running bool
	// streak counts tokens given to the finish lane in a row while the start lane waited.
	streak int
}

type laneWaiter struct {
	granted   chan struct{}
	abandoned bool
}

func newLanes(bucket *rate.Limiter) *lanes { return &lanes{bucket: bucket} }

// wait blocks until the request may be sent or ctx ends.
func (l *lanes) wait(ctx context.Context, ln lane) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	w := &laneWaiter{granted: make(chan struct{})}
	l.mu.Lock()
	l.queues[ln] = append(l.queues[ln], w)
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		go l.dispatch()
	}
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		w.abandoned = true
		l.mu.Unlock()
		return context.Cause(ctx)
	}
}

// dispatch takes the limiter's tokens one at a time while requests wait, and gives each to the waiter next in line
// when it becomes due: a finish-lane request that arrives while the token is awaited still goes first.
func (l *lanes) dispatch() {
	for {
		l.mu.Lock()
		if len(l.queues[finishLane]) == 0 && len(l.queues[startLane]) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		r := l.bucket.Reserve()
		if !r.OK() {
			// A burst of 0 admits nothing (options validation forbids it): release the waiters rather than hang.
			l.grantAll()
			return
		}
		time.Sleep(r.Delay())
		l.mu.Lock()
		if w := l.next(); w != nil {
			close(w.granted)
		}
		l.mu.Unlock()
	}
}

// next pops the waiter that gets the token. The caller holds l.mu.
func (l *lanes) next() *laneWaiter {
	startWaits := l.waiting(startLane)
	order := [2]lane{finishLane, startLane}
	if startWaits && l.streak >= finishStreakMax {
		order = [2]lane{startLane, finishLane}
	}
	for _, ln := range order {
		if w := l.pop(ln); w != nil {
			if ln == finishLane && startWaits {
				l.streak++
			} else {
				l.streak = 0
			}
			return w
		}
	}
	return nil
}

// waiting reports whether a lane holds a waiter that has not given up. The caller holds l.mu.
func (l *lanes) waiting(ln lane) bool {
	for _, w := range l.queues[ln] {
		if !w.abandoned {
			return true
		}
	}
	return false
}

// pop removes and returns the lane's first waiter that has not given up. The caller holds l.mu.
func (l *lanes) pop(ln lane) *laneWaiter {
	q := l.queues[ln]
	for len(q) > 0 {
		w := q[0]
		q[0] = nil
		q = q[1:]
		if !w.abandoned {
			l.queues[ln] = q
			return w
		}
	}
	l.queues[ln] = nil
	return nil
}

func (l *lanes) grantAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ln := range l.queues {
		for _, w := range l.queues[ln] {
			close(w.granted)
		}
		l.queues[ln] = nil
	}
	l.running = false
}
