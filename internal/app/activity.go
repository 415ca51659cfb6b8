package app

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/activity"
)

// buildActivity builds the hourly event counters. It runs before the
// services that count (accounts, OAuth, rate limits) are built.
func (a *App) buildActivity() error {
	c, err := activity.New(activity.Config{Store: a.Store, Now: a.Now, Log: a.Log})
	if err != nil {
		return err
	}
	a.Activity = c
	return nil
}

// runActivity adds the counts to the database every few seconds until ctx
// ends (pruning is part of the minute's housekeeping).
func (a *App) runActivity(ctx context.Context) {
	go a.Activity.Run(ctx)
}

// flushActivity stores what was counted since the last flush, at Close:
// admin commands count too (a sign-in checked by the CLI) and run no
// background loop.
func (a *App) flushActivity() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Activity.Flush(ctx); err != nil {
		a.Log.Warn("flushing activity counters", "err", err)
	}
}
