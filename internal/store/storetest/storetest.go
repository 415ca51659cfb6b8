// Package storetest is the conformance suite every store.Store backend must
// pass: each interface method, each sentinel error, cascades, round trips of
// lists and times, and races on every single-use record. Backends call Run
// from their own tests; nothing here knows which database is underneath.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Run runs the suite. open must return a fresh, migrated store that no other
// test shares, and arrange (t.Cleanup) to close and remove it. Each case runs
// as a parallel subtest on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	var (
		ran     atomic.Int64
		dialect atomic.Value
	)
	t.Run("conformance", func(t *testing.T) {
		for _, c := range cases() {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				s := open(t)
				if d, ok := s.(interface{ Dialect() string }); ok {
					dialect.Store(d.Dialect())
				}
				ran.Add(1)
				c.fn(t, newFixture(t, s))
			})
		}
	})
	name, _ := dialect.Load().(string)
	if name == "" {
		name = t.Name()
	}
	t.Logf("conformance: %d tests ran on %s", ran.Load(), name)
}

type testCase struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// cases lists the suite. Grouped by aggregate; races last.
func cases() []testCase {
	return append(append(append(append(coreCases(), emailCases()...), webhookCases()...), auditCases()...), activityCases()...)
}

func coreCases() []testCase {
	return []testCase{
		{"users/create_get", testUserCreateGet},
		{"users/conflict", testUserConflict},
		{"users/not_found", testUserNotFound},
		{"users/list", testUserList},
		{"users/update_password", testUserUpdatePassword},
		{"users/set_disabled", testUserSetDisabled},
		{"users/must_change_password", testUserMustChangePassword},
		{"users/totp", testUserTOTP},
		{"users/totp_step", testTOTPStep},
		{"users/recovery_codes", testRecoveryCodes},
		{"users/time_round_trip", testTimeRoundTrip},

		{"sessions/crud", testSessionCRUD},
		{"sessions/delete_user_sessions", testDeleteUserSessions},
		{"sessions/delete_expired", testDeleteExpiredSessions},

		{"throttle/record", testThrottleRecord},
		{"throttle/window", testThrottleWindow},
		{"throttle/policy", testThrottlePolicy},
		{"throttle/refund", testThrottleRefund},

		{"clients/create_get", testClientCreateGet},
		{"clients/conflict", testClientConflict},
		{"clients/create_is_atomic", testClientCreateAtomic},
		{"clients/list", testClientList},
		{"clients/update", testClientUpdate},
		{"clients/secrets", testClientSecrets},
		{"clients/delete_cascades", testClientDeleteCascades},
		{"clients/resource_server", testClientResourceServer},
		{"clients/app_fields", testClientAppFields},
		{"clients/token_options", testClientTokenOptions},
		{"clients/logo", testClientLogo},
		{"clients/secret_lifecycle", testClientSecretLifecycle},

		{"consents/upsert_get_list", testConsentUpsert},
		{"consents/delete", testConsentDelete},

		{"grants/create_get_revoke", testGrants},
		{"grants/revoke_user_client", testRevokeGrants},

		{"codes/consume", testCodeConsume},
		{"codes/round_trip", testCodeRoundTrip},
		{"codes/read_does_not_consume", testCodeReadDoesNotConsume},

		{"tokens/create_lookup", testTokenCreateLookup},
		{"tokens/client_credentials_no_grant", testTokenNoGrant},
		{"tokens/lookup_reflects_state", testTokenLookupState},
		{"tokens/conflict_and_atomic", testTokenConflict},
		{"tokens/rotate", testTokenRotate},
		{"tokens/rotate_rolls_back", testTokenRotateRollback},
		{"tokens/revoke_access", testTokenRevokeAccess},
		{"tokens/revoke_refresh_only_the_token", testTokenRevokeRefresh},
		{"tokens/delete_expired", testTokenDeleteExpired},
		{"codes/delete_expired", testAuthCodeDeleteExpired},
		{"audience/round_trip", testAudienceRoundTrip},

		{"pats/create_lookup", testPATCreateLookup},
		{"pats/list_revoke", testPATListRevoke},
		{"pats/touch", testPATTouch},

		{"apikeys/create_lookup", testAPIKeyCreateLookup},
		{"apikeys/list_revoke", testAPIKeyListRevoke},
		{"apikeys/touch", testAPIKeyTouch},

		{"ping", testPing},
		{"text/invalid_lookups", testInvalidTextLookups},
		{"text/invalid_write", testInvalidTextWrite},

		{"tx/commit", testTxCommit},
		{"tx/rollback_on_error", testTxRollbackOnError},
		{"tx/rollback_on_panic", testTxRollbackOnPanic},
		{"tx/reads_see_own_writes", testTxReadsSeeWrites},
		{"tx/grouped_writes_inside", testTxGroupedWrites},
		{"tx/nested", testTxNested},
		{"tx/lock_unknown", testTxLockUnknown},
		{"tx/touch_sorted_batch", testTxTouchLarge},
		{"meta/init_once", testMetaInitOnce},
		{"signing_keys/lifecycle", testSigningKeysLifecycle},
		{"signing_keys/kid_unique", testSigningKeyKIDUnique},

		{"oidc/sign_in", testSignIn},
		{"oidc/client", testClientOIDC},
		{"race/consume_auth_code", testRaceConsumeAuthCode},
		{"race/rotate_refresh_token", testRaceRotateRefreshToken},
		{"race/totp_step", testRaceTOTPStep},
		{"race/recovery_code", testRaceRecoveryCode},
		{"race/reserve_count", testRaceReserveCount},
		{"race/reserve_delay", testRaceReserveDelay},
		{"race/reserve_refund", testRaceReserveRefund},
		{"race/create_tokens", testRaceCreateTokens},
		{"race/tx_count_then_create", testRaceTxCap},
		{"race/tx_merge_consent", testRaceTxConsentMerge},
		{"race/init_meta_value", testRaceInitMetaValue},
	}
}

// ---------------------------------------------------------------- fixture

// fixture creates related records with unique ids in one test's store.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
	// now has sub-millisecond digits on purpose: stores keep milliseconds.
	now time.Time
	n   int
}

func newFixture(t *testing.T, s store.Store) *fixture {
	return &fixture{
		t:   t,
		s:   s,
		ctx: t.Context(),
		now: time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC),
	}
}

func (f *fixture) id(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-%03d", prefix, f.n)
}

// at returns now + d.
func (f *fixture) at(d time.Duration) time.Time { return f.now.Add(d) }

// profile is what credential lookups report of u.
func profile(u *store.User) store.Profile {
	return store.Profile{ID: u.ID, Email: u.Email, Name: u.Name, TOTPEnabled: u.TOTPEnabled, CreatedAt: u.CreatedAt}
}

func (f *fixture) user(mod ...func(*store.User)) *store.User {
	f.t.Helper()
	id := f.id("user")
	u := &store.User{
		ID:                   id,
		Email:                id + "@example.com",
		Name:                 "Name " + id,
		PasswordHash:         "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		CredentialsChangedAt: f.now,
		CreatedAt:            f.now,
		UpdatedAt:            f.now,
	}
	for _, m := range mod {
		m(u)
	}
	must(f.t, f.s.CreateUser(f.ctx, u))
	return u
}

func (f *fixture) client(ownerID string, mod ...func(*store.Client)) *store.Client {
	f.t.Helper()
	c := &store.Client{
		ID:           f.id("client"),
		Name:         "App",
		Description:  "An app",
		OwnerID:      ownerID,
		Type:         store.ClientConfidential,
		RedirectURIs: []string{"https://app.example.com/cb"},
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		Scopes:       []string{"openid", "profile"},
		Status:       store.ClientActive,
		CreatedAt:    f.now,
		UpdatedAt:    f.now,
	}
	for _, m := range mod {
		m(c)
	}
	must(f.t, f.s.CreateClient(f.ctx, c, nil))
	return c
}

func (f *fixture) grant(clientID, userID string) *store.Grant {
	f.t.Helper()
	g := &store.Grant{ID: f.id("grant"), ClientID: clientID, UserID: userID, Scopes: []string{"openid"}, CreatedAt: f.now}
	must(f.t, f.s.CreateGrant(f.ctx, g))
	return g
}

// newToken builds (does not store) a token of the grant g.
func (f *fixture) newToken(kind string, g *store.Grant) *store.Token {
	id := f.id("tok")
	return &store.Token{
		Hash:      "hash-" + id,
		ID:        id,
		Kind:      kind,
		GrantID:   g.ID,
		ClientID:  g.ClientID,
		UserID:    g.UserID,
		Scopes:    []string{"openid", "email"},
		CreatedAt: f.now,
		ExpiresAt: f.at(time.Hour),
	}
}

func (f *fixture) token(kind string, g *store.Grant) *store.Token {
	f.t.Helper()
	tok := f.newToken(kind, g)
	must(f.t, f.s.CreateTokens(f.ctx, tok))
	return tok
}

func (f *fixture) code(g *store.Grant) *store.AuthCode {
	f.t.Helper()
	c := &store.AuthCode{
		Hash:                "code-" + f.id("code"),
		GrantID:             g.ID,
		ClientID:            g.ClientID,
		UserID:              g.UserID,
		RedirectURI:         "https://app.example.com/cb",
		Scopes:              []string{"openid"},
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "n-0S6_WzA2Mj",
		AuthTime:            f.at(-time.Minute),
		CreatedAt:           f.now,
		ExpiresAt:           f.at(time.Minute),
	}
	must(f.t, f.s.CreateAuthCode(f.ctx, c))
	return c
}

// world is one user with one active client and one grant between them.
type world struct {
	u *store.User
	c *store.Client
	g *store.Grant
}

func (f *fixture) world() world {
	f.t.Helper()
	u := f.user()
	c := f.client(u.ID)
	return world{u: u, c: c, g: f.grant(c.ID, u.ID)}
}

// ---------------------------------------------------------------- assertions

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// equal compares records the way a store promises to keep them: times to the
// millisecond (want is truncated; got must be exactly that instant), nil and
// empty slices alike.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), what); d != "" {
		t.Fatalf("%s", d)
	}
}

func diff(got, want reflect.Value, path string) string {
	if got.Type() != want.Type() {
		return fmt.Sprintf("%s: type %s, want %s", path, got.Type(), want.Type())
	}
	if got.Type() == reflect.TypeFor[time.Time]() {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time).Truncate(time.Millisecond)
		if !g.Equal(w) {
			return fmt.Sprintf("%s = %v, want %v", path, g, w)
		}
		return ""
	}
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return fmt.Sprintf("%s = %v, want %v", path, describe(got), describe(want))
			}
			return ""
		}
		return diff(got.Elem(), want.Elem(), path)
	case reflect.Struct:
		for i := range got.NumField() {
			if d := diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if got.Len() != want.Len() {
			return fmt.Sprintf("%s = %v, want %v", path, got, want)
		}
		for i := range got.Len() {
			if d := diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			return fmt.Sprintf("%s = %#v, want %#v", path, got.Interface(), want.Interface())
		}
		return ""
	}
}

func describe(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprint(v.Elem().Interface())
}

func ptr[T any](v T) *T { return &v }

// race runs fn n times concurrently, every goroutine released at the same
// instant, and returns each call's error.
func race(n int, fn func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// raceN is the number of goroutines in each race test.
const raceN = 32

// tally counts nil errors and errors matching target; anything else fails.
func tally(t *testing.T, errs []error, target error) (ok, matched int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, target):
			matched++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok, matched
}
