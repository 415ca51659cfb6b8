package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/store"
)

// countingUsers counts profile reads.
type countingUsers struct {
	calls int
	user  *store.User
}

func (c *countingUsers) UserByID(_ context.Context, id string) (*store.User, error) {
	c.calls++
	if c.user == nil || c.user.ID != id {
		return nil, store.ErrNotFound
	}
	return c.user, nil
}

func TestMeUsesTheProfileTheCredentialLookupRead(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := &store.User{ID: "u1", Email: "db@example.com", Name: "From DB", CreatedAt: created}
	cases := []struct {
		name      string
		p         *authn.Principal
		wantCalls int
		wantEmail string
		wantCode  int
	}{
		{"profile on the principal: no second query",
			&authn.Principal{UserID: "u1", User: &store.Profile{ID: "u1", Email: "joined@example.com", CreatedAt: created}}, 0, "joined@example.com", 200},
		{"no profile: read it", &authn.Principal{UserID: "u1"}, 1, "db@example.com", 200},
		{"profile of someone else is ignored", &authn.Principal{UserID: "u1", User: &store.Profile{ID: "u2", Email: "x@example.com"}}, 1, "db@example.com", 200},
		{"user gone", &authn.Principal{UserID: "u9"}, 1, "", 404},
		{"no user (an API key of no one)", &authn.Principal{ClientID: "c1"}, 0, "", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users := &countingUsers{user: u}
			m := NewMe(users, nil, nil)
			req := httptest.NewRequest("GET", "/v0/me", nil)
			req = req.WithContext(authn.WithPrincipal(req.Context(), c.p))
			rec := httptest.NewRecorder()
			m.me(rec, req)
			if rec.Code != c.wantCode || users.calls != c.wantCalls {
				t.Fatalf("status %d, %d UserByID calls; want %d, %d (%s)", rec.Code, users.calls, c.wantCode, c.wantCalls, rec.Body)
			}
			if c.wantEmail != "" {
				var got Profile
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Email != c.wantEmail || got.ID != "u1" {
					t.Fatalf("profile = %+v (%v), want email %s", got, err, c.wantEmail)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Error("profile response is cacheable")
				}
			}
		})
	}
}
