// Package pgtest decides whether a test's PostgreSQL half runs.
//
// Every suite runs on SQLite and, when GATEHOUSE_TEST_POSTGRES_URL is set, on
// PostgreSQL too. Without the variable the PostgreSQL half must not vanish
// silently: `go test ./...` would print the same "ok" as a full run. So each
// harness always starts a "postgres" subtest and skips it here with one
// message, which `go test -v` and the test summary (test/summary) count and
// show.
package pgtest

import (
	"os"
	"testing"
)

// Env names the variable that holds the PostgreSQL URL the tests use (each
// test creates a schema of its own in that database).
const Env = "GATEHOUSE_TEST_POSTGRES_URL"

// SkipReason is the message of every skipped PostgreSQL test; the summary
// groups skips by message, so all harnesses use this one.
const SkipReason = "PostgreSQL half skipped: set " + Env +
	"='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' to run it"

// URL returns the PostgreSQL URL for the tests, or skips t with SkipReason
// when the variable is unset (fails it under CI=true: CI must run both
// backends).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		skip(t)
	}
	return u
}

func skip(t testing.TB) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(Env + " is not set: CI must run the PostgreSQL half (.ci/run sets it)")
	}
	t.Skip(SkipReason)
}

// ReportSkipped runs a "postgres" subtest of t that skips with SkipReason, so
// a harness that left PostgreSQL out of its list still shows the half that
// did not run.
func ReportSkipped(t *testing.T) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { skip(t) })
}
