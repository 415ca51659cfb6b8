package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/store"
)

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                    "SELECT 1",
		"SELECT a FROM t WHERE b = ?": "SELECT a FROM t WHERE b = $1",
		"INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)": "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		"UPDATE t SET a = COALESCE(a, ?) WHERE b = ?":            "UPDATE t SET a = COALESCE(a, $1) WHERE b = $2",
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeList(t *testing.T) {
	for in, want := range map[string][]string{
		`[]`:                 nil,
		``:                   nil,
		`["a"]`:              {"a"},
		`[""]`:               {""},
		`["a","b c","d,e"]`:  {"a", "b c", "d,e"},
		`["[x]","]"]`:        {"[x]", "]"},
		`["a\"b","c\\d"]`:    {`a"b`, `c\d`},
		`["\u003cx\u003e"]`:  {"<x>"},
		`[ "spaced" , "x" ]`: {"spaced", "x"},
	} {
		got, err := decodeList(in)
		if err != nil {
			t.Errorf("decodeList(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decodeList(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{`["a",]`, `["a"`, `[1]`, `{"a":1}`, `["a""b"]`} {
		if got, err := decodeList(bad); err == nil {
			t.Errorf("decodeList(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzListRoundTrip checks that whatever list is stored comes back equal,
// whichever decoding path it takes.
func FuzzListRoundTrip(f *testing.F) {
	f.Add("a", "b", `"`)
	f.Add("", "]", `","`)
	f.Add("ü", "<&>", "\x00")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		enc, err := encodeList(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := decodeList(enc)
		if err != nil {
			t.Fatalf("decodeList(%q): %v", enc, err)
		}
		// encoding/json replaces invalid UTF-8; compare against what JSON can carry.
		for i := range in {
			in[i] = string([]rune(in[i]))
		}
		if !reflect.DeepEqual(out, in) {
			t.Fatalf("round trip of %q via %q = %q", in, enc, out)
		}
	})
}

func BenchmarkDecodeList(b *testing.B) {
	for b.Loop() {
		if _, err := decodeList(`["openid","profile","email","offline_access"]`); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTimes(t *testing.T) {
	if got := fromMS(ms(time.Time{})); !got.IsZero() {
		t.Errorf("zero time round trip = %v", got)
	}
	in := time.Date(2025, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("X", 3600))
	if got, want := fromMS(ms(in)), in.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("round trip = %v, want %v", got, want)
	}
	if nullMS(nil) != nil || optTime(sql.NullInt64{}) != nil {
		t.Error("nil time not NULL")
	}
	if got := optTime(sql.NullInt64{Int64: ms(in), Valid: true}); got == nil || !got.Equal(in.Truncate(time.Millisecond)) {
		t.Errorf("optTime = %v", got)
	}
}

func TestMapErr(t *testing.T) {
	for _, c := range []struct {
		in   error
		want error
	}{
		{sql.ErrNoRows, store.ErrNotFound},
		{fmt.Errorf("wrapped: %w", sql.ErrNoRows), store.ErrNotFound},
		{&pgconn.PgError{Code: "23505"}, store.ErrConflict},
		{&pgconn.PgError{Code: "23503"}, store.ErrNotFound},
		{fmt.Errorf("op: %w", store.ErrAlreadyUsed), store.ErrAlreadyUsed},
	} {
		if got := mapErr("op", c.in); !errors.Is(got, c.want) {
			t.Errorf("mapErr(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	other := &pgconn.PgError{Code: "40001"}
	got := mapErr("op", other)
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrAlreadyUsed} {
		if errors.Is(got, s) {
			t.Errorf("serialization failure mapped to %v", s)
		}
	}
	if !errors.Is(got, other) {
		t.Error("driver error lost from the chain")
	}
	if mapErr("op", nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}

func TestNewRejectsUnknownDialect(t *testing.T) {
	if _, err := New("mysql", &sql.DB{}, nil); err == nil {
		t.Error("New accepted dialect mysql")
	}
}

// TestMultiRowInsert: the batch's INSERT has one 12-placeholder group per
// row, and rebinds to consecutive PostgreSQL parameters.
func TestMultiRowInsert(t *testing.T) {
	for _, n := range []int{2, 3, insertChunk} {
		q := multiRowInsert(n)
		if got := strings.Count(q, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"); got != n {
			t.Errorf("n=%d: %d row groups in %q", n, got, q)
		}
		pg := rebind(q)
		last := fmt.Sprintf("$%d)", 12*n)
		if !strings.HasSuffix(pg, last) || strings.Contains(pg, "?") || strings.Contains(pg, fmt.Sprintf("$%d", 12*n+1)) {
			t.Errorf("n=%d: rebound %q does not end at %s", n, pg, last)
		}
	}
}
