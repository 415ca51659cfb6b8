package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Activity counters add (never replace), so flushes from several replicas
// sum; a range reads whole hours, from included, to excluded.

func activityCases() []testCase {
	return []testCase{
		{"activity/add_sums", testActivityAddSums},
		{"activity/range_and_prune", testActivityRange},
		{"race/activity_add", testRaceActivityAdd},
	}
}

func activityMap(t *testing.T, f *fixture, from, to time.Time) map[string]int64 {
	t.Helper()
	list, err := f.s.ActivityBetween(f.ctx, from, to)
	must(t, err)
	out := map[string]int64{}
	for _, c := range list {
		if !c.Hour.Equal(c.Hour.Truncate(time.Hour)) {
			t.Fatalf("hour %v is not on the hour", c.Hour)
		}
		out[c.Hour.UTC().Format("15")+" "+c.Name] = c.Count
	}
	return out
}

func testActivityAddSums(t *testing.T, f *fixture) {
	h := f.now.Truncate(time.Hour)
	// f.now is mid-hour: the store truncates it. The same pair twice in one
	// call sums too.
	must(t, f.s.AddActivity(f.ctx, []store.ActivityCount{
		{Hour: f.now, Name: "sign_in.success", Count: 2},
		{Hour: h, Name: "sign_in.success", Count: 1},
		{Hour: h, Name: "token.issued", Count: 5},
		{Hour: h, Name: "rate_limit.hit", Count: 0},
	}))
	must(t, f.s.AddActivity(f.ctx, []store.ActivityCount{
		{Hour: h, Name: "sign_in.success", Count: 4},
		{Hour: h.Add(time.Hour), Name: "token.issued", Count: 1},
	}))
	must(t, f.s.AddActivity(f.ctx, nil))
	got := activityMap(t, f, h, h.Add(2*time.Hour))
	want := map[string]int64{"15 sign_in.success": 7, "15 token.issued": 5, "16 token.issued": 1}
	equal(t, "counts", got, want)
}

func testActivityRange(t *testing.T, f *fixture) {
	h := f.now.Truncate(time.Hour)
	var in []store.ActivityCount
	for i := range 5 {
		in = append(in, store.ActivityCount{Hour: h.Add(time.Duration(i) * time.Hour), Name: "token.issued", Count: int64(i + 1)})
	}
	must(t, f.s.AddActivity(f.ctx, in))
	// From included, to excluded; ordered by hour.
	list, err := f.s.ActivityBetween(f.ctx, h.Add(time.Hour), h.Add(3*time.Hour))
	must(t, err)
	if len(list) != 2 || !list[0].Hour.Equal(h.Add(time.Hour)) || list[0].Count != 2 || !list[1].Hour.Equal(h.Add(2*time.Hour)) || list[1].Count != 3 {
		t.Fatalf("range: %+v", list)
	}
	n, err := f.s.DeleteActivityBefore(f.ctx, h.Add(2*time.Hour))
	must(t, err)
	equal(t, "pruned", n, int64(2))
	got := activityMap(t, f, h.Add(-24*time.Hour), h.Add(24*time.Hour))
	equal(t, "left", got, map[string]int64{"17 token.issued": 3, "18 token.issued": 4, "19 token.issued": 5})
}

// testRaceActivityAdd flushes the same rows from many writers at once, in
// opposite orders (replicas over one PostgreSQL): none fails, none is lost.
func testRaceActivityAdd(t *testing.T, f *fixture) {
	h := f.now.Truncate(time.Hour)
	const writers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			counts := []store.ActivityCount{{Hour: h, Name: "a", Count: 1}, {Hour: h, Name: "b", Count: 2}}
			if i%2 == 1 {
				counts[0], counts[1] = counts[1], counts[0]
			}
			errs <- f.s.AddActivity(f.ctx, counts)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	equal(t, "sums", activityMap(t, f, h, h.Add(time.Hour)), map[string]int64{"15 a": writers, "15 b": 2 * writers})
}
