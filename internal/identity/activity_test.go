package identity_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
)

// Every password check is counted once, by its outcome: success, failure,
// or refused unchecked (lockout). The counts match what callers were told.
func TestSignInActivityCounted(t *testing.T) {
	base := identitytest.New(t)
	ctr, err := activity.New(activity.Config{Store: base.Store, Now: base.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := identitytest.NewWithStore(t, base.Store, identitytest.WithConfig(func(c *identity.Config) { c.Activity = ctr }))
	ctx := t.Context()
	u := e.CreateUser(t, "ada@example.com", "correct horse battery staple")

	want := map[activity.Event]int64{}
	check := func(password string) {
		t.Helper()
		_, err := e.Service.CheckPassword(ctx, u.Email, password, "192.0.2.7")
		var te *identity.ThrottledError
		switch {
		case err == nil:
			want[activity.SignInSuccess]++
		case errors.Is(err, identity.ErrInvalidCredentials):
			want[activity.SignInFailure]++
		case errors.As(err, &te):
			want[activity.SignInLockout]++
		default:
			t.Fatal(err)
		}
	}
	check("correct horse battery staple")
	check("correct horse battery staple")
	// Wrong passwords until the account is throttled (the clock stands
	// still, so the delay after the free failures never passes).
	for i := 0; i < 20 && want[activity.SignInLockout] < 2; i++ {
		check("wrong password, sorry")
	}
	if want[activity.SignInLockout] != 2 || want[activity.SignInFailure] == 0 {
		t.Fatalf("outcomes %v: the throttle never refused", want)
	}
	if err := e.Config.Activity.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := e.Config.Activity.Last(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []activity.Event{activity.SignInSuccess, activity.SignInFailure, activity.SignInLockout} {
		if got := s.Total(ev); got != want[ev] {
			t.Errorf("%s: counted %d, callers were told %d", ev.Name(), got, want[ev])
		}
	}
}
