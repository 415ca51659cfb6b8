package pgtest

import (
	"fmt"
	"runtime"
	"testing"
)

// recorder stands in for a test: it records Skip and Fatal and stops the
// goroutine as the real ones do.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
}

func TestURL(t *testing.T) {
	t.Run("set", func(t *testing.T) {
		t.Setenv(Env, "postgres://x@127.0.0.1/test")
		t.Setenv("CI", "")
		r := &recorder{TB: t}
		var got string
		r.run(func(tb testing.TB) { got = URL(tb) })
		if got != "postgres://x@127.0.0.1/test" || r.skipped != "" || r.fatal != "" {
			t.Fatalf("URL = %q, skipped %q, fatal %q", got, r.skipped, r.fatal)
		}
	})
	t.Run("unset skips with the one message", func(t *testing.T) {
		t.Setenv(Env, "")
		t.Setenv("CI", "")
		r := &recorder{TB: t}
		r.run(func(tb testing.TB) { URL(tb) })
		if r.skipped != SkipReason || r.fatal != "" {
			t.Fatalf("skipped %q, fatal %q", r.skipped, r.fatal)
		}
	})
	t.Run("unset under CI fails", func(t *testing.T) {
		t.Setenv(Env, "")
		t.Setenv("CI", "true")
		r := &recorder{TB: t}
		r.run(func(tb testing.TB) { URL(tb) })
		if r.fatal == "" || r.skipped != "" {
			t.Fatalf("skipped %q, fatal %q", r.skipped, r.fatal)
		}
	})
}
