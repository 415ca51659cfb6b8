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
// when the variable is unset.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		t.Skip(SkipReason)
	}
	return u
}
