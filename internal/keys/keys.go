// Package keys holds the keys the server signs JSON Web Tokens with (ID
// tokens, JWT access tokens): it creates them, seals them in the store with
// the master key, rotates them on a schedule, signs with the current one and
// publishes the public halves as a JWK Set (RFC 7517).
//
// A key's life, with every replica reading the same rows:
//
//	created ── published in the JWKS ──┐
//	active_at ── signs (after publish-ahead, so relying parties have cached it)
//	retired_at ── stops signing (when its successor becomes active)
//	expires_at ── leaves the JWKS (once everything it signed has expired)
//
// Signing never happens inside a database transaction or under a lock held
// across I/O: keys are loaded into memory and reloaded every few seconds, so
// issuing a token costs one signature.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"

	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The algorithms a key can have. RS256 is always kept: OpenID Connect Core
// §15.1 "OPs MUST support signing ID Tokens with the RSA SHA-256 algorithm".
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Supported lists every algorithm a key can have, RS256 first.
var supported = []string{RS256, ES256, EdDSA}

// Supported returns the algorithms the manager can sign with.
func Supported() []string { return slices.Clone(supported) }

// Errors.
var (
	// ErrUnsupportedAlg: no such algorithm.
	ErrUnsupportedAlg = errors.New("keys: unsupported signing algorithm")
	// ErrUnknownKey: a token names a key the server does not publish.
	ErrUnknownKey = errors.New("keys: token signed by an unknown key")
	// ErrBadSignature: the token is malformed or its signature does not
	// verify.
	ErrBadSignature = errors.New("keys: malformed token or bad signature")
)

// Config tunes the manager.
type Config struct {
	// Algorithms are the algorithms a key is kept for; RS256 is added when
	// missing. Empty: every supported algorithm.
	Algorithms []string
	// Rotation is how old the newest key of an algorithm may get before a
	// successor is made (0: only `gatehouse keys rotate`).
	Rotation time.Duration
	// PublishAhead is how long a new key is published before it signs.
	PublishAhead time.Duration
	// MaxTokenTTL is the longest a signed token lives; a retired key stays
	// published this long after it stopped signing.
	MaxTokenTTL time.Duration
	// Reload is how often the keys are re-read from the store, which bounds
	// how long another replica's rotation takes to reach this one.
	Reload time.Duration
}

// defaultConfig holds the values zero fields take.
var defaultConfig = Config{Rotation: 30 * 24 * time.Hour, PublishAhead: time.Hour, MaxTokenTTL: 24 * time.Hour, Reload: 30 * time.Second}

// Manager is the key set of one process.
type Manager struct {
	st   store.Store
	box  *secret.Box
	now  func() time.Time
	rand io.Reader
	log  *slog.Logger
	cfg  Config

	mu   sync.RWMutex
	keys []*key // every published key, oldest first

	// refreshMu serialises reloads triggered by an unknown kid; lastRefresh
	// bounds them to one per minRefreshGap.
	refreshMu   sync.Mutex
	lastRefresh time.Time
}

// minRefreshGap bounds the reloads a stream of tokens with made-up kids can
// cause.
const minRefreshGap = 5 * time.Second

type key struct {
	rec     store.SigningKey
	public  jose.JSONWebKey
	signers map[string]*jwsSigner // by typ header
}

// New builds the manager and loads the keys, creating a first key for each
// algorithm that has none.
func New(ctx context.Context, st store.Store, box *secret.Box, now func() time.Time, random io.Reader, log *slog.Logger, cfg Config) (*Manager, error) {
	if cfg.Rotation < 0 || cfg.PublishAhead < 0 || cfg.MaxTokenTTL < 0 || cfg.Reload < 0 {
		return nil, errors.New("keys: negative duration in configuration")
	}
	if cfg.PublishAhead == 0 {
		cfg.PublishAhead = defaultConfig.PublishAhead
	}
	if cfg.MaxTokenTTL == 0 {
		cfg.MaxTokenTTL = defaultConfig.MaxTokenTTL
	}
	if cfg.Reload == 0 {
		cfg.Reload = defaultConfig.Reload
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = Supported()
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(supported, a) {
			return nil, fmt.Errorf("%w: %q (want one of %v)", ErrUnsupportedAlg, a, supported)
		}
	}
	if !slices.Contains(cfg.Algorithms, RS256) {
		cfg.Algorithms = append([]string{RS256}, cfg.Algorithms...)
	}
	m := &Manager{st: st, box: box, now: now, rand: random, log: log, cfg: cfg}
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	for _, alg := range cfg.Algorithms {
		if m.current(alg, now()) != nil || m.pending(alg) {
			continue
		}
		// A first key signs at once: nobody can have cached a key set
		// without it.
		if _, err := m.create(ctx, st, alg, now()); err != nil {
			return nil, err
		}
	}
	return m, m.Reload(ctx)
}

// Algorithms lists the algorithms the manager signs with, RS256 first.
func (m *Manager) Algorithms() []string { return slices.Clone(m.cfg.Algorithms) }

// Reload re-reads the keys from the store.
func (m *Manager) Reload(ctx context.Context) error {
	recs, err := m.st.ListSigningKeys(ctx, m.now())
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	m.mu.RLock()
	old := map[string]*key{}
	for _, k := range m.keys {
		old[k.rec.KID] = k
	}
	m.mu.RUnlock()
	keys := make([]*key, 0, len(recs))
	for _, rec := range recs {
		if k, ok := old[rec.KID]; ok {
			k2 := *k
			k2.rec = rec // retirement dates change; the key material does not
			keys = append(keys, &k2)
			continue
		}
		k, err := m.open(rec)
		if err != nil {
			// One unreadable key must not take signing down with it.
			m.log.Error("signing key cannot be opened; skipped", "kid", rec.KID, "alg", rec.Alg, "err", err)
			continue
		}
		keys = append(keys, k)
	}
	m.mu.Lock()
	m.keys = keys
	m.mu.Unlock()
	return nil
}

func sealContext(kid string) string { return "signing-key:" + kid }

func (m *Manager) open(rec store.SigningKey) (*key, error) {
	der, err := m.box.Open(rec.PrivateKey, sealContext(rec.KID))
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", priv)
	}
	if err := checkKeyAlg(signer, rec.Alg); err != nil {
		return nil, err
	}
	k := &key{
		rec:     rec,
		public:  jose.JSONWebKey{Key: signer.Public(), KeyID: rec.KID, Algorithm: rec.Alg, Use: "sig"},
		signers: map[string]*jwsSigner{},
	}
	for _, typ := range []string{"JWT", "at+jwt"} {
		s, err := newJWSSigner(rec.Alg, rec.KID, typ, signer)
		if err != nil {
			return nil, err
		}
		k.signers[typ] = s
	}
	return k, nil
}

func checkKeyAlg(k crypto.Signer, alg string) error {
	ok := false
	switch alg {
	case RS256:
		_, ok = k.(*rsa.PrivateKey)
	case ES256:
		var ec *ecdsa.PrivateKey
		ec, ok = k.(*ecdsa.PrivateKey)
		ok = ok && ec.Curve == elliptic.P256()
	case EdDSA:
		_, ok = k.(ed25519.PrivateKey)
	}
	if !ok {
		return fmt.Errorf("key of type %T does not fit %s", k, alg)
	}
	return nil
}

func (m *Manager) generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(m.rand, 2048)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), m.rand)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(m.rand)
		return priv, err
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
}

// create stores a new key of alg that signs from activeAt.
func (m *Manager) create(ctx context.Context, st store.SigningKeys, alg string, activeAt time.Time) (*store.SigningKey, error) {
	priv, err := m.generate(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	kid, err := thumbprintKID(priv.Public(), alg)
	if err != nil {
		return nil, err
	}
	sealed, err := m.box.Seal(der, sealContext(kid))
	if err != nil {
		return nil, err
	}
	rec := &store.SigningKey{KID: kid, Alg: alg, PrivateKey: sealed, CreatedAt: m.now(), ActiveAt: activeAt}
	if err := st.CreateSigningKey(ctx, rec); err != nil {
		return nil, fmt.Errorf("storing signing key: %w", err)
	}
	m.log.Info("signing key created", "kid", kid, "alg", alg, "signs_from", activeAt.UTC().Format(time.RFC3339))
	return rec, nil
}

// thumbprintKID names a key by its RFC 7638 thumbprint: unique, and the same
// on every replica that reads it.
func thumbprintKID(pub crypto.PublicKey, alg string) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub, Algorithm: alg}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp)[:16], nil
}

// current returns the key of alg that signs at t: active, not retired, the
// most recently activated (two replicas rotating at once both publish their
// key; every replica picks the same one).
func (m *Manager) current(alg string, t time.Time) *key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.currentLocked(alg, t)
}

// currentLocked is current for a caller holding m.mu.
func (m *Manager) currentLocked(alg string, t time.Time) *key {
	var best *key
	for _, k := range m.keys {
		if k.rec.Alg != alg || k.rec.ActiveAt.After(t) || (k.rec.RetiredAt != nil && !k.rec.RetiredAt.After(t)) {
			continue
		}
		if best == nil || k.rec.ActiveAt.After(best.rec.ActiveAt) ||
			(k.rec.ActiveAt.Equal(best.rec.ActiveAt) && k.rec.KID > best.rec.KID) {
			best = k
		}
	}
	return best
}

// pending reports whether a key of alg is published but not yet signing.
func (m *Manager) pending(alg string) bool {
	t := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range m.keys {
		if k.rec.Alg == alg && k.rec.ActiveAt.After(t) {
			return true
		}
	}
	return false
}

// Sign returns the compact JWS of payload signed with alg's current key, the
// header carrying its kid and typ "JWT" (ID tokens).
func (m *Manager) Sign(ctx context.Context, alg string, payload []byte) (string, error) {
	return m.SignTyped(ctx, alg, "JWT", payload)
}

// SignTyped is Sign with another typ header: "at+jwt" for JWT access tokens
// (RFC 9068 §2.1), which keeps them from being taken for ID tokens.
func (m *Manager) SignTyped(ctx context.Context, alg, typ string, payload []byte) (string, error) {
	if !slices.Contains(m.cfg.Algorithms, alg) {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	k := m.current(alg, m.now())
	if k == nil {
		// The current key retired and its successor is not loaded yet
		// (a rotation on another replica seconds ago): read the store.
		if err := m.Reload(ctx); err != nil {
			return "", err
		}
		if k = m.current(alg, m.now()); k == nil {
			return "", fmt.Errorf("keys: no active %s key (run `gatehouse keys rotate --alg %s --immediately`)", alg, alg)
		}
	}
	s, ok := k.signers[typ]
	if !ok {
		return "", fmt.Errorf("keys: unsupported typ %q", typ)
	}
	return s.sign(m.rand, payload)
}

// Verify checks a compact JWS against the published keys and returns its
// payload and typ header. Only the signature is checked, not the claims. A
// kid the server does not know makes it re-read the store, at most once per
// few seconds.
func (m *Manager) Verify(ctx context.Context, token string) ([]byte, error) {
	payload, _, err := m.VerifyTyped(ctx, token)
	return payload, err
}

// VerifyTyped is Verify, also returning the typ header.
func (m *Manager) VerifyTyped(ctx context.Context, token string) ([]byte, string, error) {
	// Only the algorithms keys exist for are accepted: "none" and HS256 (a
	// public key used as an HMAC secret) are refused by the parser itself.
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", ErrBadSignature
	}
	h := jws.Signatures[0].Header
	k := m.published(h.KeyID)
	if k == nil {
		m.refreshForUnknownKID(ctx)
		if k = m.published(h.KeyID); k == nil {
			return nil, "", ErrUnknownKey
		}
	}
	if h.Algorithm != k.rec.Alg {
		return nil, "", ErrBadSignature
	}
	payload, err := jws.Verify(k.public.Key)
	if err != nil {
		return nil, "", ErrBadSignature
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return payload, typ, nil
}

func (m *Manager) published(kid string) *key {
	if kid == "" {
		return nil
	}
	t := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range m.keys {
		if k.rec.KID == kid && (k.rec.ExpiresAt == nil || k.rec.ExpiresAt.After(t)) {
			return k
		}
	}
	return nil
}

func (m *Manager) refreshForUnknownKID(ctx context.Context) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	if t := m.now(); t.Sub(m.lastRefresh) >= minRefreshGap {
		m.lastRefresh = t
		if err := m.Reload(ctx); err != nil {
			m.log.Warn("reloading signing keys for an unknown kid", "err", err)
		}
	}
}

// JWKS returns the public keys: every key not yet expired, including those
// published ahead of signing and those retired but still verifying.
func (m *Manager) JWKS() jose.JSONWebKeySet {
	t := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range m.keys {
		if k.rec.ExpiresAt == nil || k.rec.ExpiresAt.After(t) {
			set.Keys = append(set.Keys, k.public)
		}
	}
	return set
}

// KeyInfo describes a key for `gatehouse keys list`.
type KeyInfo struct {
	KID       string
	Alg       string
	CreatedAt time.Time
	ActiveAt  time.Time
	RetiredAt *time.Time
	ExpiresAt *time.Time
	State     string // pending, active, retired
}

// List returns every published key, oldest first, read from the store.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	t := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]KeyInfo, 0, len(m.keys))
	for _, k := range m.keys {
		st := "active"
		switch {
		case k.rec.ActiveAt.After(t):
			st = "pending"
		case k.rec.RetiredAt != nil && !k.rec.RetiredAt.After(t):
			st = "retired"
		case m.currentLocked(k.rec.Alg, t) != k:
			st = "superseded"
		}
		out = append(out, KeyInfo{KID: k.rec.KID, Alg: k.rec.Alg, CreatedAt: k.rec.CreatedAt, ActiveAt: k.rec.ActiveAt,
			RetiredAt: k.rec.RetiredAt, ExpiresAt: k.rec.ExpiresAt, State: st})
	}
	return out, nil
}

// Rotate makes a successor for alg's keys. It is published now and signs
// after the publish-ahead interval (immediately: at once, for a suspected
// compromise); the keys it replaces stop signing when it starts and stay
// published until every token they signed has expired.
func (m *Manager) Rotate(ctx context.Context, alg string, immediately bool) (KeyInfo, error) {
	if !slices.Contains(m.cfg.Algorithms, alg) {
		return KeyInfo{}, fmt.Errorf("%w: %q (this server signs with %v)", ErrUnsupportedAlg, alg, m.cfg.Algorithms)
	}
	activeAt := m.now().Add(m.cfg.PublishAhead)
	if immediately {
		activeAt = m.now()
	}
	var rec *store.SigningKey
	err := m.st.InTx(ctx, func(tx store.Store) error {
		var err error
		if rec, err = m.create(ctx, tx, alg, activeAt); err != nil {
			return err
		}
		_, err = tx.RetireSigningKeys(ctx, alg, rec.KID, activeAt, activeAt.Add(m.cfg.MaxTokenTTL))
		return err
	})
	if err != nil {
		return KeyInfo{}, err
	}
	if err := m.Reload(ctx); err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{KID: rec.KID, Alg: alg, CreatedAt: rec.CreatedAt, ActiveAt: rec.ActiveAt, State: "pending"}, nil
}

// Run reloads the keys every Reload interval until ctx ends, rotates an
// algorithm whose newest key is older than Rotation, and deletes expired
// keys.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("signing keys maintenance", "err", err)
		}
	}
}

// Tick is one round of Run.
func (m *Manager) Tick(ctx context.Context) error {
	if err := m.Reload(ctx); err != nil {
		return err
	}
	if m.cfg.Rotation > 0 {
		for _, alg := range m.cfg.Algorithms {
			if newest := m.newestCreated(alg); !newest.IsZero() && m.now().Sub(newest) < m.cfg.Rotation {
				continue
			}
			if _, err := m.Rotate(ctx, alg, false); err != nil {
				return err
			}
		}
	}
	_, err := m.st.DeleteExpiredSigningKeys(ctx, m.now())
	return err
}

func (m *Manager) newestCreated(alg string) time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var t time.Time
	for _, k := range m.keys {
		if k.rec.Alg == alg && k.rec.CreatedAt.After(t) {
			t = k.rec.CreatedAt
		}
	}
	return t
}

// ServeHTTP answers the JWK Set (RFC 7517 §5). Caches may keep it five
// minutes: keys are published an hour (PublishAhead) before they sign.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	// Public keys: any origin may read them (browser-based relying
	// parties validate ID tokens too).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	body, err := json.Marshal(m.JWKS())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(body)
}
