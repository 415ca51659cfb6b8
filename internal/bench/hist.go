package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in a fixed set of log-linear buckets: exact
// below 256 ns, then 128 buckets per power of two, so any reported
// percentile is within 1/128 (< 0.8 %) of the true value. Recording is a few
// integer operations and never allocates; one Histogram per worker, merged at
// the end, keeps the load generator off the critical path.
//
// The zero value is ready to use. A Histogram is not safe for concurrent use.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    int64 // nanoseconds
	min    int64
	max    int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128 buckets per power of two
	// histMaxExp bounds the range: values of 2^41 ns (≈ 37 min) and more
	// land in the last bucket (the exact maximum is still tracked).
	histMaxExp  = 33
	histBuckets = (histMaxExp+1)*histSub + histSub
)

// bucketOf maps a non-negative value to its bucket index.
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - (histSubBits + 1) // v>>e is in [128, 256)
	if e > histMaxExp {
		return histBuckets - 1
	}
	return e*histSub + int(v>>uint(e))
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	e := i/histSub - 1
	m := uint64(i - e*histSub) // in [128, 256)
	return m << uint(e), 1 << uint(e)
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(uint64(v))]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest observation (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest observation (exact).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the arithmetic mean (exact).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / int64(h.n))
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100): the
// smallest recorded value such that at least p % of the observations are less
// than or equal to it, to within the bucket resolution. It returns 0 for an
// empty histogram; p ≥ 100 returns the exact maximum.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if p >= 100 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		cum += c
		if cum >= rank {
			low, width := bucketRange(i)
			v := int64(low + (width-1)/2) // middle of the bucket
			if v < h.min {
				v = h.min
			}
			if v > h.max {
				v = h.max
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
