package identity_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
	"github.com/gatehouse/gatehouse/internal/store"
)

func TestAdminActions(t *testing.T) {
	type act func(a *identity.Admin, id string) (*store.User, error)
	tests := []struct {
		name         string
		do           act
		wantDisabled bool
		wantTOTP     bool
		wantMust     bool
		wantSessions int
		wantCodes    int
	}{
		{"disable", func(a *identity.Admin, id string) (*store.User, error) { return a.Disable(ctx, "t", id) }, true, true, false, 0, 2},
		{"enable", func(a *identity.Admin, id string) (*store.User, error) { return a.Enable(ctx, "t", id) }, false, true, false, 1, 2},
		{"end sessions", func(a *identity.Admin, id string) (*store.User, error) { return a.EndSessions(ctx, "t", id) }, false, true, false, 0, 2},
		{"reset second factor", func(a *identity.Admin, id string) (*store.User, error) { return a.ResetSecondFactor(ctx, "t", id) }, false, false, false, 1, 0},
		{"force password change", func(a *identity.Admin, id string) (*store.User, error) { return a.ForcePasswordChange(ctx, "t", id) }, false, true, true, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := identitytest.New(t)
			u, err := e.Service.CreateUser(ctx, identity.NewUser{Email: email, Password: password})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Store.SetTOTP(ctx, u.ID, "sealed", true, u.CreatedAt); err != nil {
				t.Fatal(err)
			}
			if err := e.Store.ReplaceRecoveryCodes(ctx, u.ID, []string{"h1", "h2"}, u.CreatedAt); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.Service.StartSession(ctx, u.ID, false, "ua", ip); err != nil {
				t.Fatal(err)
			}
			got, err := tc.do(e.Service.Admin(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := e.Store.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if *got != *stored {
				t.Errorf("returned %+v, stored %+v", got, stored)
			}
			if stored.Disabled != tc.wantDisabled || stored.TOTPEnabled != tc.wantTOTP || stored.MustChangePassword != tc.wantMust {
				t.Errorf("disabled=%v totp=%v must=%v, want %v %v %v", stored.Disabled, stored.TOTPEnabled, stored.MustChangePassword,
					tc.wantDisabled, tc.wantTOTP, tc.wantMust)
			}
			if !tc.wantTOTP && stored.TOTPSecret != "" {
				t.Error("seed kept after reset")
			}
			sess, err := e.Service.Admin().Sessions(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(sess) != tc.wantSessions {
				t.Errorf("%d sessions, want %d", len(sess), tc.wantSessions)
			}
			n, err := e.Store.CountRecoveryCodes(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantCodes {
				t.Errorf("%d recovery codes, want %d", n, tc.wantCodes)
			}
			if _, err := tc.do(e.Service.Admin(), "no-such-user"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown user: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestAdminFindByEmailOrID(t *testing.T) {
	e := identitytest.New(t)
	u, err := e.Service.CreateUser(ctx, identity.NewUser{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{u.ID, email, u.Email} {
		got, err := e.Service.Admin().Find(ctx, ref)
		if err != nil || got.ID != u.ID {
			t.Errorf("Find(%q) = %v, %v", ref, got, err)
		}
	}
	if _, err := e.Service.Admin().Find(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Find(unknown) err = %v", err)
	}
}

func TestPasswordChangeClearsForcedChange(t *testing.T) {
	e := identitytest.New(t)
	u, err := e.Service.CreateUser(ctx, identity.NewUser{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.Admin().ForcePasswordChange(ctx, "t", u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Service.ChangePassword(ctx, u.ID, password, "a brand new quiet harbour", ip); err != nil {
		t.Fatal(err)
	}
	got, err := e.Store.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.MustChangePassword {
		t.Fatal("MustChangePassword still set after ChangePassword")
	}
}
