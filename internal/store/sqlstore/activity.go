package sqlstore

import (
	"context"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// AddActivity implements store.Activity. Every row is one upsert that adds
// (count = count + excluded.count), run in one transaction in (hour, name)
// order: replicas flushing the same rows lock them in the same order, so
// they queue instead of deadlocking, and their counts sum.
func (s *Store) AddActivity(ctx context.Context, counts []store.ActivityCount) error {
	type key struct {
		hour int64
		name string
	}
	sum := make(map[key]int64, len(counts))
	for _, c := range counts {
		if c.Count == 0 {
			continue
		}
		sum[key{ms(c.Hour.Truncate(time.Hour)), c.Name}] += c.Count
	}
	if len(sum) == 0 {
		return nil
	}
	keys := make([]key, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].hour != keys[j].hour {
			return keys[i].hour < keys[j].hour
		}
		return keys[i].name < keys[j].name
	})
	return s.InTx(ctx, func(tx store.Store) error {
		t := tx.(*Store)
		for _, k := range keys {
			if _, err := t.wq.exec(ctx, `INSERT INTO activity_hourly (hour, name, count) VALUES (?, ?, ?)
				ON CONFLICT (hour, name) DO UPDATE SET count = activity_hourly.count + excluded.count`,
				k.hour, k.name, sum[k]); err != nil {
				return mapErr("add activity", err)
			}
		}
		return nil
	})
}

// ActivityBetween implements store.Activity.
func (s *Store) ActivityBetween(ctx context.Context, from, to time.Time) ([]store.ActivityCount, error) {
	rows, err := s.rq.query(ctx, `SELECT hour, name, count FROM activity_hourly WHERE hour >= ? AND hour < ?
		ORDER BY hour, name`, ms(from), ms(to))
	if err != nil {
		return nil, mapErr("activity", err)
	}
	defer rows.Close()
	var out []store.ActivityCount
	for rows.Next() {
		var (
			c    store.ActivityCount
			hour int64
		)
		if err := rows.Scan(&hour, &c.Name, &c.Count); err != nil {
			return nil, mapErr("activity", err)
		}
		c.Hour = fromMS(hour)
		out = append(out, c)
	}
	return out, mapErr("activity", rows.Err())
}

// DeleteActivityBefore implements store.Activity.
func (s *Store) DeleteActivityBefore(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete old activity", `DELETE FROM activity_hourly WHERE hour < ?`, ms(before))
}
