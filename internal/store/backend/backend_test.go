package backend

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

func TestIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db":         true,
		"postgresql://u@h/db?x=y":   true,
		"POSTGRES://u@h/db":         true,
		"/var/lib/gatehouse/gh.db":  false,
		"gatehouse.db":              false,
		"./postgres://not-a-url.db": false,
		"postgres.db":               false,
	} {
		if got := IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != "sqlite" {
		t.Fatalf("Dialect = %q", s.Dialect())
	}
}

func TestOpenPostgres(t *testing.T) {
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != "postgres" {
		t.Fatalf("Dialect = %q", s.Dialect())
	}
}
