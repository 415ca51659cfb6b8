package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Op is one timed operation of a worker: one or more HTTP requests that make
// up the workload's unit of work. It returns nil on success; a *StatusError
// for an unexpected HTTP status; any other error for a transport failure.
type Op func(ctx context.Context) error

// StatusError is an unexpected HTTP answer. Body holds the first bytes of the
// response body, for the report.
type StatusError struct {
	Step   string // which request of the operation, e.g. "POST /oauth2/token"
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Step, e.Status, e.Body)
}

// loadPlan is one timed run.
type loadPlan struct {
	Warmup   time.Duration // operations before this are run but not recorded
	Duration time.Duration // the measured window
	// OnMeasureStart and OnMeasureEnd are called (from a separate goroutine)
	// at the edges of the measured window, to sample server CPU.
	OnMeasureStart func()
	OnMeasureEnd   func()
}

// loadResult is what one timed run measured.
type loadResult struct {
	Hist       Histogram // latency of successful operations in the window
	OK         uint64    // successful operations in the window
	Errors     uint64    // failed operations in the window
	FirstError string    // the first failure seen, if any
	Elapsed    time.Duration
}

// runLoad drives len(ops) workers, each calling its Op in a closed loop until
// the plan's window ends. Only operations that start inside the window and
// finish before it ends are counted, so cut-off requests never show as errors
// and the rate is not inflated by the warm-up. The whole run is bounded by the
// plan (plus the time in-flight requests take to notice cancellation).
func runLoad(ctx context.Context, plan loadPlan, ops []Op) *loadResult {
	start := time.Now()
	measureStart := start.Add(plan.Warmup)
	end := measureStart.Add(plan.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	type workerOut struct {
		hist     Histogram
		ok, errs uint64
		first    error
		firstAt  time.Time
	}
	outs := make([]*workerOut, len(ops))
	var wg sync.WaitGroup

	// Sample the server at the window's edges.
	wg.Go(func() {
		t := time.NewTimer(time.Until(measureStart))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if plan.OnMeasureStart != nil {
			plan.OnMeasureStart()
		}
		<-ctx.Done()
		if plan.OnMeasureEnd != nil {
			plan.OnMeasureEnd()
		}
	})

	for i, op := range ops {
		out := new(workerOut) // separate allocations: no false sharing
		outs[i] = out
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := op(ctx)
				t1 := time.Now()
				if ctx.Err() != nil || t1.After(end) {
					return // cut off by the deadline: not counted
				}
				if t0.Before(measureStart) {
					if err != nil {
						backoff(ctx, err)
					}
					continue // warm-up
				}
				if err != nil {
					out.errs++
					if out.first == nil {
						out.first, out.firstAt = err, t1
					}
					backoff(ctx, err)
					continue
				}
				out.ok++
				out.hist.Record(t1.Sub(t0))
			}
		})
	}
	wg.Wait()

	res := &loadResult{Elapsed: plan.Duration}
	var firstAt time.Time
	for _, o := range outs {
		res.Hist.Merge(&o.hist)
		res.OK += o.ok
		res.Errors += o.errs
		if o.first != nil && (firstAt.IsZero() || o.firstAt.Before(firstAt)) {
			res.FirstError, firstAt = o.first.Error(), o.firstAt
		}
	}
	return res
}

// backoff pauses a worker briefly after a transport failure (connection
// refused, reset) so a dead server does not turn the generator into a busy
// loop. HTTP status errors are answers from a live server: no pause.
func backoff(ctx context.Context, err error) {
	var se *StatusError
	if errors.As(err, &se) {
		return
	}
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
