package keys_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/tokentest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newBox(t testing.TB) *secret.Box {
	t.Helper()
	master := make([]byte, secret.KeySize)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func newManager(t testing.TB, st *sqlstore.Store, box *secret.Box, clock *tokentest.Clock, cfg keys.Config) *keys.Manager {
	t.Helper()
	m, err := keys.New(context.Background(), st, box, clock.Now, rand.Reader, quiet, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func jwksKIDs(m *keys.Manager) map[string]bool {
	out := map[string]bool{}
	for _, k := range m.JWKS().Keys {
		out[k.KeyID] = true
	}
	return out
}

func TestSignVerifyEveryAlgorithm(t *testing.T) {
	tokentest.ForEachBackend(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		ctx := context.Background()
		clock := tokentest.NewClock()
		m := newManager(t, open(t), newBox(t), clock, keys.Config{})
		if got := m.Algorithms(); len(got) != 3 || got[0] != keys.RS256 {
			t.Fatalf("algorithms %v, want RS256 first of three", got)
		}
		for _, alg := range m.Algorithms() {
			tok, err := m.Sign(ctx, alg, []byte(`{"sub":"u1"}`))
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			payload, err := m.Verify(ctx, tok)
			if err != nil || string(payload) != `{"sub":"u1"}` {
				t.Fatalf("%s: verify %q, %v", alg, payload, err)
			}
			// The public key published in the JWKS verifies it too, as a
			// relying party would.
			set := m.JWKS()
			pub := set.Key(kidOf(t, tok))
			if len(pub) != 1 || pub[0].Algorithm != alg || pub[0].Use != "sig" || !pub[0].IsPublic() {
				t.Fatalf("%s: JWKS entry %+v", alg, pub)
			}
			jws, _ := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if _, err := jws.Verify(pub[0].Key); err != nil {
				t.Fatalf("%s: JWKS key does not verify: %v", alg, err)
			}
			// The serialization is exactly RFC 7515 §7.1's: a protected
			// header of alg, kid and typ, and the raw signature RFC 7518
			// gives the algorithm (R||S for ES256, not ASN.1).
			parts := strings.Split(tok, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			var h map[string]string
			if err := json.Unmarshal(hdr, &h); err != nil || len(h) != 3 || h["alg"] != alg || h["kid"] != pub[0].KeyID || h["typ"] != "JWT" {
				t.Fatalf("%s: protected header %s", alg, hdr)
			}
			sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
			if want := map[string]int{keys.RS256: 256, keys.ES256: 64, keys.EdDSA: 64}[alg]; err != nil || len(sig) != want {
				t.Fatalf("%s: signature of %d bytes (%v), want %d", alg, len(sig), err, want)
			}
			at, err := m.SignTyped(ctx, alg, "at+jwt", []byte(`{"sub":"u1"}`))
			if err != nil {
				t.Fatal(err)
			}
			if _, typ, err := m.VerifyTyped(ctx, at); err != nil || typ != "at+jwt" {
				t.Fatalf("%s: at+jwt token: typ %q, %v", alg, typ, err)
			}
			// A flipped byte in the payload fails.
			body, _ := base64.RawURLEncoding.DecodeString(parts[1])
			body[2] ^= 1
			parts[1] = base64.RawURLEncoding.EncodeToString(body)
			if _, err := m.Verify(ctx, strings.Join(parts, ".")); !errors.Is(err, keys.ErrBadSignature) {
				t.Fatalf("%s: tampered payload: %v", alg, err)
			}
		}
		if _, err := m.Sign(ctx, "HS256", []byte(`{}`)); !errors.Is(err, keys.ErrUnsupportedAlg) {
			t.Fatalf("HS256 signing: %v", err)
		}
	})
}

// A token with alg "none", or signed with HMAC using the public key as the
// secret (the classic algorithm-confusion attack), is refused.
func TestVerifyRefusesNoneAndHMACConfusion(t *testing.T) {
	ctx := context.Background()
	clock := tokentest.NewClock()
	m := newManager(t, tokentest.OpenSQLite(t), newBox(t), clock, keys.Config{Algorithms: []string{keys.RS256}})
	tok, err := m.Sign(ctx, keys.RS256, []byte(`{"sub":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	kid := kidOf(t, tok)
	pubJSON, _ := json.Marshal(m.JWKS().Keys[0])
	enc := base64.RawURLEncoding.EncodeToString
	payload := enc([]byte(`{"sub":"admin"}`))

	none := enc([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + payload + "."
	hsHeader := enc([]byte(`{"alg":"HS256","kid":"` + kid + `"}`))
	mac := hmac.New(sha256.New, pubJSON)
	mac.Write([]byte(hsHeader + "." + payload))
	hs := hsHeader + "." + payload + "." + enc(mac.Sum(nil))
	// An RS256 header on an EdDSA-shaped signature, and a kid swap.
	for name, bad := range map[string]string{"none": none, "HS256 with the public key": hs, "garbage": "a.b.c", "empty": ""} {
		if _, err := m.Verify(ctx, bad); !errors.Is(err, keys.ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
	parts := strings.Split(tok, ".")
	other := enc([]byte(`{"alg":"RS256","kid":"not-a-key"}`)) + "." + parts[1] + "." + parts[2]
	if _, err := m.Verify(ctx, other); !errors.Is(err, keys.ErrUnknownKey) {
		t.Errorf("unknown kid: got %v", err)
	}
}

// Rotation while tokens are in flight: the new key is published before it
// signs; old tokens keep verifying; new tokens use the new kid; the old key
// leaves the JWKS only once its last token has expired.
func TestRotationWithTokensInFlight(t *testing.T) {
	tokentest.ForEachBackend(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		ctx := context.Background()
		clock := tokentest.NewClock()
		cfg := keys.Config{Algorithms: []string{keys.EdDSA}, PublishAhead: time.Hour, MaxTokenTTL: 2 * time.Hour, Rotation: 30 * 24 * time.Hour}
		m := newManager(t, open(t), newBox(t), clock, cfg)
		oldTok, _ := m.Sign(ctx, keys.EdDSA, []byte(`{"n":1}`))
		oldKID := kidOf(t, oldTok)

		next, err := m.Rotate(ctx, keys.EdDSA, false)
		if err != nil {
			t.Fatal(err)
		}
		if !jwksKIDs(m)[next.KID] || !jwksKIDs(m)[oldKID] {
			t.Fatalf("after rotate the JWKS must hold both keys: %v", jwksKIDs(m))
		}
		// Within the publish-ahead window the old key still signs.
		clock.Advance(30 * time.Minute)
		tok, _ := m.Sign(ctx, keys.EdDSA, []byte(`{"n":2}`))
		if kidOf(t, tok) != oldKID {
			t.Fatalf("the new key signed before it was published for PublishAhead")
		}
		clock.Advance(31 * time.Minute)
		newTok, _ := m.Sign(ctx, keys.EdDSA, []byte(`{"n":3}`))
		if kidOf(t, newTok) != next.KID {
			t.Fatalf("after PublishAhead tokens must use the new kid")
		}
		for _, tk := range []string{oldTok, tok, newTok} {
			if _, err := m.Verify(ctx, tk); err != nil {
				t.Fatalf("in-flight token stopped verifying: %v", err)
			}
		}
		// The last token the old key signed (at activation) lives
		// MaxTokenTTL: the key is published until then, and not after.
		clock.Advance(2*time.Hour - 2*time.Minute)
		if err := m.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if !jwksKIDs(m)[oldKID] {
			t.Fatalf("old key left the JWKS before its last token expired")
		}
		clock.Advance(2 * time.Minute)
		if err := m.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if jwksKIDs(m)[oldKID] || !jwksKIDs(m)[next.KID] {
			t.Fatalf("after expiry the JWKS must hold only the new key: %v", jwksKIDs(m))
		}
		if _, err := m.Verify(ctx, oldTok); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("token of an expired key: %v", err)
		}
	})
}

// Tick rotates a key older than Rotation; a second replica on the same store
// picks the rotation up on its next reload, and verifies a token signed with
// a key it has not loaded yet by reloading on the unknown kid.
func TestScheduledRotationReachesOtherReplicas(t *testing.T) {
	tokentest.ForEachBackendReplicas(t, 2, func(t *testing.T, stores []*sqlstore.Store) {
		ctx := context.Background()
		clock := tokentest.NewClock()
		box := newBox(t)
		cfg := keys.Config{Algorithms: []string{keys.ES256}, Rotation: 24 * time.Hour, PublishAhead: time.Hour, MaxTokenTTL: time.Hour}
		a := newManager(t, stores[0], box, clock, cfg)
		b := newManager(t, stores[1], box, clock, cfg)
		if len(a.JWKS().Keys) != 2 { // RS256 is always kept, plus ES256
			t.Fatalf("want RS256 and ES256 keys, got %d", len(a.JWKS().Keys))
		}
		before := jwksKIDs(b)
		clock.Advance(25 * time.Hour)
		if err := a.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if len(jwksKIDs(a)) != 4 {
			t.Fatalf("after the scheduled rotation want 4 published keys, got %v", jwksKIDs(a))
		}
		if len(jwksKIDs(b)) != len(before) {
			t.Fatalf("replica b changed without reloading")
		}
		if err := b.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if len(jwksKIDs(b)) != 4 {
			t.Fatalf("replica b after reload: %v", jwksKIDs(b))
		}
		// An immediate rotation on a, verified on b without a reload.
		k, err := a.Rotate(ctx, keys.ES256, true)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := a.Sign(ctx, keys.ES256, []byte(`{}`))
		if err != nil || kidOf(t, tok) != k.KID {
			t.Fatalf("immediate rotation must sign with the new key: %v", err)
		}
		if _, err := b.Verify(ctx, tok); err != nil {
			t.Fatalf("replica b must reload on an unknown kid: %v", err)
		}
	})
}

// Many goroutines sign and verify while another rotates: every token
// verifies.
func TestConcurrentSignDuringRotation(t *testing.T) {
	ctx := context.Background()
	clock := tokentest.NewClock()
	m := newManager(t, tokentest.OpenSQLite(t), newBox(t), clock, keys.Config{Algorithms: []string{keys.EdDSA}})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				tok, err := m.Sign(ctx, keys.EdDSA, []byte(`{"i":1}`))
				if err == nil {
					_, err = m.Verify(ctx, tok)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if _, err := m.Rotate(ctx, keys.EdDSA, true); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestJWKSEndpoint(t *testing.T) {
	clock := tokentest.NewClock()
	m := newManager(t, tokentest.OpenSQLite(t), newBox(t), clock, keys.Config{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("want 3 keys, got %d", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.KeyID == "" {
			t.Fatalf("JWKS leaks a private key or lacks a kid: %+v", k)
		}
	}
	res2, _ := http.Post(srv.URL, "text/plain", nil)
	res2.Body.Close()
	if res2.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", res2.StatusCode)
	}
}

// Keys are sealed with the master key: another key cannot open them, and
// the manager refuses to sign rather than sign with garbage.
func TestKeysAreSealed(t *testing.T) {
	ctx := context.Background()
	clock := tokentest.NewClock()
	st := tokentest.OpenSQLite(t)
	newManager(t, st, newBox(t), clock, keys.Config{Algorithms: []string{keys.RS256}})
	recs, err := st.ListSigningKeys(ctx, clock.Now())
	if err != nil || len(recs) != 1 || !strings.HasPrefix(recs[0].PrivateKey, "v1:") {
		t.Fatalf("stored key is not sealed: %+v %v", recs, err)
	}
	other := newManager(t, st, newBox(t), clock, keys.Config{Algorithms: []string{keys.RS256}})
	// The second manager cannot open the first key, so it made its own.
	tok, err := other.Sign(ctx, keys.RS256, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, tok) == recs[0].KID {
		t.Fatalf("signed with a key sealed under another master key")
	}
}
