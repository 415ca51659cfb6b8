package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

func testUserCreateGet(t *testing.T, f *fixture) {
	u := f.user(func(u *store.User) {
		u.Admin = true
		u.TOTPSecret = "sealed:abc"
		u.TOTPEnabled = true
		u.Name = "Zoë \"Q\" O'Brien ☃"
		u.CreatedAt = f.at(-time.Hour)
		u.UpdatedAt = f.at(-time.Minute)
	})
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	equal(t, "UserByID", got, u)
	got, err = f.s.UserByEmail(f.ctx, u.Email)
	must(t, err)
	equal(t, "UserByEmail", got, u)
}

func testUserConflict(t *testing.T, f *fixture) {
	u := f.user()
	dupEmail := *u
	dupEmail.ID = "other-id"
	wantErr(t, f.s.CreateUser(f.ctx, &dupEmail), store.ErrConflict)
	dupID := *u
	dupID.Email = "other@example.com"
	wantErr(t, f.s.CreateUser(f.ctx, &dupID), store.ErrConflict)
	// Neither attempt left a row behind.
	users, err := f.s.ListUsers(f.ctx)
	must(t, err)
	if len(users) != 1 {
		t.Fatalf("ListUsers: %d users, want 1", len(users))
	}
}

func testUserNotFound(t *testing.T, f *fixture) {
	_, err := f.s.UserByID(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.UserByEmail(f.ctx, "nope@example.com")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.UpdatePassword(f.ctx, "nope", "h", true, f.now), store.ErrNotFound)
	wantErr(t, f.s.SetDisabled(f.ctx, "nope", true, f.now), store.ErrNotFound)
	wantErr(t, f.s.SetTOTP(f.ctx, "nope", "s", true, f.now), store.ErrNotFound)
	users, err := f.s.ListUsers(f.ctx)
	must(t, err)
	if len(users) != 0 {
		t.Fatalf("ListUsers on empty store: %d users", len(users))
	}
}

func testUserList(t *testing.T, f *fixture) {
	b := f.user(func(u *store.User) { u.CreatedAt = f.at(2 * time.Second) })
	a := f.user(func(u *store.User) { u.CreatedAt = f.at(time.Second) })
	got, err := f.s.ListUsers(f.ctx)
	must(t, err)
	equal(t, "ListUsers (oldest first)", got, []store.User{*a, *b})
}

func testUserUpdatePassword(t *testing.T, f *fixture) {
	u := f.user()
	// A transparent rehash keeps credentials_changed_at.
	must(t, f.s.UpdatePassword(f.ctx, u.ID, "rehash", false, f.at(time.Minute)))
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	equal(t, "hash after rehash", got.PasswordHash, "rehash")
	equal(t, "CredentialsChangedAt after rehash", got.CredentialsChangedAt, u.CredentialsChangedAt)
	// A real change moves it.
	must(t, f.s.UpdatePassword(f.ctx, u.ID, "changed", true, f.at(time.Hour)))
	got, err = f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	equal(t, "hash after change", got.PasswordHash, "changed")
	equal(t, "CredentialsChangedAt after change", got.CredentialsChangedAt, f.at(time.Hour))
}

func testUserSetDisabled(t *testing.T, f *fixture) {
	u := f.user()
	must(t, f.s.SetDisabled(f.ctx, u.ID, true, f.at(time.Minute)))
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if !got.Disabled {
		t.Fatal("Disabled = false after SetDisabled(true)")
	}
	equal(t, "CredentialsChangedAt after disable", got.CredentialsChangedAt, f.at(time.Minute))
	must(t, f.s.SetDisabled(f.ctx, u.ID, false, f.at(time.Hour)))
	got, err = f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if got.Disabled {
		t.Fatal("Disabled = true after SetDisabled(false)")
	}
	// Re-enabling does not revive what disabling killed.
	equal(t, "CredentialsChangedAt after enable", got.CredentialsChangedAt, f.at(time.Minute))
	equal(t, "UpdatedAt after enable", got.UpdatedAt, f.at(time.Hour))
}

func testUserMustChangePassword(t *testing.T, f *fixture) {
	u := f.user()
	wantErr(t, f.s.SetMustChangePassword(f.ctx, "nope", true, f.now), store.ErrNotFound)
	must(t, f.s.SetMustChangePassword(f.ctx, u.ID, true, f.at(time.Minute)))
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if !got.MustChangePassword {
		t.Fatal("MustChangePassword = false after SetMustChangePassword(true)")
	}
	equal(t, "UpdatedAt after set", got.UpdatedAt, f.at(time.Minute))
	// A transparent rehash is not the change the administrator asked for.
	must(t, f.s.UpdatePassword(f.ctx, u.ID, "rehash", false, f.at(2*time.Minute)))
	got, err = f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if !got.MustChangePassword {
		t.Fatal("a rehash cleared MustChangePassword")
	}
	// A real change clears it.
	must(t, f.s.UpdatePassword(f.ctx, u.ID, "changed", true, f.at(time.Hour)))
	got, err = f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if got.MustChangePassword {
		t.Fatal("MustChangePassword still set after a password change")
	}
	// CreateUser stores the flag as given.
	v := f.user(func(u *store.User) { u.MustChangePassword = true })
	got, err = f.s.UserByEmail(f.ctx, v.Email)
	must(t, err)
	equal(t, "created user", *got, *v)
	// The administrator role is set and taken away alike.
	wantErr(t, f.s.SetAdmin(f.ctx, "nope", true, f.now), store.ErrNotFound)
	for _, admin := range []bool{true, false} {
		must(t, f.s.SetAdmin(f.ctx, v.ID, admin, f.at(time.Minute)))
		got, err = f.s.UserByID(f.ctx, v.ID)
		must(t, err)
		equal(t, "Admin", got.Admin, admin)
	}
	// Clearing it explicitly works too.
	must(t, f.s.SetMustChangePassword(f.ctx, v.ID, false, f.at(time.Hour)))
	got, err = f.s.UserByID(f.ctx, v.ID)
	must(t, err)
	if got.MustChangePassword {
		t.Fatal("MustChangePassword still set after SetMustChangePassword(false)")
	}
}

func testUserTOTP(t *testing.T, f *fixture) {
	u := f.user()
	must(t, f.s.SetTOTP(f.ctx, u.ID, "sealed-seed", false, f.now))
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if got.TOTPSecret != "sealed-seed" || got.TOTPEnabled {
		t.Fatalf("pending enrolment: secret %q enabled %v", got.TOTPSecret, got.TOTPEnabled)
	}
	must(t, f.s.SetTOTP(f.ctx, u.ID, "sealed-seed", true, f.now))
	got, err = f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if !got.TOTPEnabled {
		t.Fatal("TOTPEnabled = false after confirmation")
	}
	must(t, f.s.SetTOTP(f.ctx, u.ID, "", false, f.now))
	got, err = f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if got.TOTPSecret != "" || got.TOTPEnabled {
		t.Fatalf("after removal: secret %q enabled %v", got.TOTPSecret, got.TOTPEnabled)
	}
}

func testTOTPStep(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	must(t, f.s.UseTOTPStep(f.ctx, u.ID, 1000, f.now))
	wantErr(t, f.s.UseTOTPStep(f.ctx, u.ID, 1000, f.now), store.ErrAlreadyUsed)
	must(t, f.s.UseTOTPStep(f.ctx, u.ID, 1001, f.now))
	must(t, f.s.UseTOTPStep(f.ctx, v.ID, 1000, f.now)) // steps are per user

	// Housekeeping forgets steps before 1001 for everyone, and only those.
	n, err := f.s.DeleteTOTPStepsBefore(f.ctx, 1001)
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteTOTPStepsBefore = %d, want 2", n)
	}
	wantErr(t, f.s.UseTOTPStep(f.ctx, u.ID, 1001, f.now), store.ErrAlreadyUsed)
}

func testRecoveryCodes(t *testing.T, f *fixture) {
	u, v := f.user(), f.user()
	count := func(userID string, want int) {
		t.Helper()
		n, err := f.s.CountRecoveryCodes(f.ctx, userID)
		must(t, err)
		if n != want {
			t.Fatalf("CountRecoveryCodes = %d, want %d", n, want)
		}
	}
	count(u.ID, 0)
	must(t, f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"h1", "h2", "h3"}, f.now))
	must(t, f.s.ReplaceRecoveryCodes(f.ctx, v.ID, []string{"h1"}, f.now))
	count(u.ID, 3)
	must(t, f.s.UseRecoveryCode(f.ctx, u.ID, "h2", f.now))
	count(u.ID, 2)
	wantErr(t, f.s.UseRecoveryCode(f.ctx, u.ID, "h2", f.now), store.ErrNotFound) // used
	wantErr(t, f.s.UseRecoveryCode(f.ctx, u.ID, "zz", f.now), store.ErrNotFound) // unknown
	wantErr(t, f.s.UseRecoveryCode(f.ctx, v.ID, "h2", f.now), store.ErrNotFound) // someone else's
	count(v.ID, 1)
	// Replacing discards the old set, used or not.
	must(t, f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"n1", "n2"}, f.now))
	count(u.ID, 2)
	wantErr(t, f.s.UseRecoveryCode(f.ctx, u.ID, "h1", f.now), store.ErrNotFound)
	must(t, f.s.UseRecoveryCode(f.ctx, u.ID, "n1", f.now))
	// A duplicate in the new set is refused and leaves the old set alone.
	wantErr(t, f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"d", "d"}, f.now), store.ErrConflict)
	count(u.ID, 1)
	// An empty set removes every code.
	must(t, f.s.ReplaceRecoveryCodes(f.ctx, u.ID, nil, f.now))
	count(u.ID, 0)
}

func testTimeRoundTrip(t *testing.T, f *fixture) {
	subMS := time.Date(2031, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("X", 5*3600+1800))
	u := f.user(func(u *store.User) {
		u.CredentialsChangedAt = time.Time{} // never changed
		u.CreatedAt = subMS
		u.UpdatedAt = time.UnixMilli(0) // the epoch is a time like any other
	})
	got, err := f.s.UserByID(f.ctx, u.ID)
	must(t, err)
	if !got.CredentialsChangedAt.IsZero() {
		t.Errorf("zero time came back as %v", got.CredentialsChangedAt)
	}
	if want := subMS.Truncate(time.Millisecond); !got.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v (milliseconds kept, the rest dropped)", got.CreatedAt, want)
	}
	if got.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("CreatedAt kept sub-millisecond digits: %v", got.CreatedAt)
	}
	if !got.UpdatedAt.Equal(time.UnixMilli(0)) {
		t.Errorf("UpdatedAt = %v, want the epoch", got.UpdatedAt)
	}
}
