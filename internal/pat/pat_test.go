package pat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

func TestCheckScopes(t *testing.T) {
	cases := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{nil, pat.AllowedScopes(scope.Builtin()), false},
		{[]string{}, nil, true},
		{[]string{"profile:read"}, []string{"profile:read"}, false},
		{[]string{"profile:read", "profile:read", "tokens:read"}, []string{"profile:read", "tokens:read"}, false},
		{[]string{"nope"}, nil, true},
		{[]string{"profile:read", ""}, nil, true},
	}
	for _, c := range cases {
		got, err := pat.CheckScopes(scope.Builtin(), c.in)
		if (err != nil) != c.wantErr || (err == nil && !equal(got, c.want)) {
			t.Errorf("CheckScopes(%q) = %q, %v", c.in, got, err)
		}
	}
	if len(pat.AllowedScopes(scope.Builtin())) == 0 {
		t.Fatal("the catalog allows PATs no scope")
	}
}

func TestCheckExpiresIn(t *testing.T) {
	year := 365 * 24 * time.Hour
	for _, c := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {time.Second, true}, {year, true}, {year + time.Second, false}, {-time.Second, false}, {time.Millisecond, false}} {
		if err := pat.CheckExpiresIn(c.d, year); (err == nil) != c.ok {
			t.Errorf("CheckExpiresIn(%v) = %v", c.d, err)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidateRules(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("rules@example.com", false)
		c, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "x", ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := e.PATs.Validate(e.Ctx, c.Token); err != nil || p.ID != c.PAT.ID || p.Hash != "" {
			t.Fatalf("Validate: %+v %v", p, err)
		}
		// Kinds and environments other than a live PAT are refused offline.
		key, _ := credential.Generate(randReader{}, credential.APIKey, "")
		testPAT, _ := credential.Generate(randReader{}, credential.PAT, "test")
		for name, tok := range map[string]string{"api key": key, "test env": testPAT, "empty": ""} {
			if _, err := e.PATs.Validate(e.Ctx, tok); !errors.Is(err, pat.ErrInvalidToken) {
				t.Errorf("%s: %v", name, err)
			}
		}
		e.Clock.Advance(time.Hour)
		if _, err := e.PATs.Validate(e.Ctx, c.Token); !errors.Is(err, pat.ErrExpired) {
			t.Fatalf("at expiry: %v", err)
		}
	})
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i * 7)
	}
	return len(p), nil
}

// TestLastUsedRace validates many PATs from many goroutines released at
// once while flushes run concurrently; run with -race. Every PAT must end
// with its latest use in the database and nothing may be lost.
func TestLastUsedRace(t *testing.T) {
	tt.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := tt.New(t, open(t), tt.Options{})
		u := e.CreateUser("race@example.com", false)
		const nPATs, workers, perWorker = 8, 32, 25
		tokens := make([]string, nPATs)
		for i := range tokens {
			c, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "race"})
			if err != nil {
				t.Fatal(err)
			}
			tokens[i] = c.Token
		}
		ctx, cancel := context.WithCancel(context.Background())
		flusherDone := make(chan struct{})
		go func() {
			defer close(flusherDone)
			for ctx.Err() == nil {
				if err := e.PATs.FlushLastUsed(context.Background()); err != nil {
					t.Error(err)
				}
				time.Sleep(time.Millisecond)
			}
		}()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < perWorker; i++ {
					if _, err := e.PATs.Validate(e.Ctx, tokens[(w+i)%nPATs]); err != nil {
						t.Error(err)
						return
					}
					if i%5 == 0 {
						e.Clock.Advance(time.Millisecond)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		cancel()
		<-flusherDone
		// One last use per PAT at a known, later time.
		e.Clock.Advance(time.Second)
		final := e.Clock.Now()
		for _, tok := range tokens {
			if _, err := e.PATs.Validate(e.Ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.PATs.FlushLastUsed(context.Background()); err != nil {
			t.Fatal(err)
		}
		list, err := e.Store.ListPATs(e.Ctx, u.ID)
		if err != nil || len(list) != nPATs {
			t.Fatalf("%d PATs, %v", len(list), err)
		}
		for _, p := range list {
			if p.LastUsedAt == nil || !p.LastUsedAt.Equal(final) {
				t.Errorf("PAT %s last used %v, want %v", p.ID, p.LastUsedAt, final)
			}
		}
	})
}

// TestFlusherRunsAndStops: the background loop writes on its own and once
// more when its context ends.
func TestFlusherRunsAndStops(t *testing.T) {
	e := tt.New(t, tt.OpenSQLite(t), tt.Options{PATConfig: pat.Config{FlushInterval: 20 * time.Millisecond}})
	u := e.CreateUser("flusher@example.com", false)
	c, err := e.PATs.Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.PATs.RunLastUsedFlusher(ctx); close(done) }()
	if _, err := e.PATs.Validate(e.Ctx, c.Token); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, _ := e.Store.ListPATs(e.Ctx, u.ID)
		if list[0].LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flusher never wrote")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.PATs.Validate(e.Ctx, c.Token); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	list, _ := e.Store.ListPATs(e.Ctx, u.ID)
	if !list[0].LastUsedAt.Equal(e.Clock.Now()) {
		t.Fatalf("final flush missing: %v", list[0].LastUsedAt)
	}
}
