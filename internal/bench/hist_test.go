package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPercentile is the nearest-rank definition on a sorted slice.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestBucketsAreContiguousAndOrdered(t *testing.T) {
	prevLow, prevWidth := bucketRange(0)
	for i := 1; i < histBuckets; i++ {
		low, width := bucketRange(i)
		if low != prevLow+prevWidth {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, prevLow+prevWidth)
		}
		// Every value of the bucket maps back to it.
		for _, v := range []uint64{low, low + width/2, low + width - 1} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
			}
		}
		// Relative width stays within 1/128.
		if low >= 2*histSub && float64(width)/float64(low) > 1.0/histSub+1e-12 {
			t.Fatalf("bucket %d too wide: %d at %d", i, width, low)
		}
		prevLow, prevWidth = low, width
	}
	if got := bucketOf(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("huge value maps to %d", got)
	}
}

func TestPercentilesSmallExact(t *testing.T) {
	var h Histogram
	for _, v := range []time.Duration{5, 1, 4, 2, 3, 10, 6, 7, 9, 8} {
		h.Record(v)
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{{1, 1}, {10, 1}, {11, 2}, {50, 5}, {90, 9}, {99, 10}, {100, 10}}
	for _, c := range cases {
		if got := h.Percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if h.Count() != 10 || h.Min() != 1 || h.Max() != 10 || h.Mean() != 5 {
		t.Errorf("count/min/max/mean = %d/%v/%v/%v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

func TestPercentilesWithinResolution(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var all []time.Duration
	for range 200_000 {
		// Log-normal-ish spread from ~50µs to ~1s, like real latencies.
		v := time.Duration(math.Exp(r.NormFloat64()*1.5 + math.Log(2e6)))
		all = append(all, v)
		h.Record(v)
	}
	slices.Sort(all)
	for _, p := range []float64{50, 90, 99, 99.9} {
		want := exactPercentile(all, p)
		got := h.Percentile(p)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/histSub {
			t.Errorf("p%v = %v, exact %v (off by %.3f%%)", p, got, want, rel*100)
		}
	}
	if h.Percentile(100) != all[len(all)-1] {
		t.Errorf("p100 = %v, want exact max %v", h.Percentile(100), all[len(all)-1])
	}
}

func TestMergeEqualsOneHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var whole Histogram
	parts := make([]Histogram, 4)
	for i := range 10_000 {
		v := time.Duration(r.Int64N(int64(50 * time.Millisecond)))
		whole.Record(v)
		parts[i%4].Record(v)
	}
	var merged Histogram
	merged.Merge(&Histogram{}) // empty merge is a no-op
	for i := range parts {
		merged.Merge(&parts[i])
	}
	if merged != whole {
		t.Fatal("merged histogram differs from the one recorded directly")
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(-5) // clamped
	if h.Percentile(50) != 0 {
		t.Fatal("negative value not clamped to zero")
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	for i := range b.N {
		h.Record(time.Duration(i&0xfffff) * 1000)
	}
}
