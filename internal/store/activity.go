package store

import (
	"context"
	"time"
)

// ---------------------------------------------------------------- activity

// ActivityCount is how many times one named event (sign_in.success,
// token.issued, …) happened in one hour.
type ActivityCount struct {
	// Hour is the start of the hour (UTC, on the hour).
	Hour  time.Time
	Name  string
	Count int64
}

// Activity persists hourly event counters. Counting is done in memory by
// internal/activity and added here every few seconds, so the table sees a
// handful of rows per flush whatever the request rate.
type Activity interface {
	// AddActivity adds each count to the stored count of its (hour, name),
	// starting from 0 for a pair not stored yet. It adds, never replaces:
	// replicas flushing the same hour at once sum. Hours are truncated to
	// the hour; pairs given twice are summed.
	AddActivity(ctx context.Context, counts []ActivityCount) error
	// ActivityBetween returns the counts of the hours from..to (from
	// included, to excluded), ordered by hour then name.
	ActivityBetween(ctx context.Context, from, to time.Time) ([]ActivityCount, error)
	// DeleteActivityBefore removes the counts of hours before before and
	// returns how many rows went.
	DeleteActivityBefore(ctx context.Context, before time.Time) (int64, error)
}
