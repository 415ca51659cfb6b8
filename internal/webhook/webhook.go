// Package webhook tells apps of events by signed HTTP calls (Standard
// Webhooks, signed and verified by the public package
// github.com/gatehouse/gatehouse/webhook). An app's owner registers
// endpoints; an event is written as one delivery row per subscribed
// endpoint plus an outbox message, in the transaction of the change that
// caused it, so a crash neither loses nor invents an event. The outbox's
// workers call the endpoint (topic "webhook"), retrying with backoff for
// about three days; every attempt is logged.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Topic is the outbox topic deliveries travel on.
const Topic = "webhook"

// CatalogVersion is the version of the event payloads below; a change that
// could break a receiver gets a new version (payload field "version").
const CatalogVersion = "2026-12-01"

// Event types (the catalog). Payload:
//
//	{"type": "app.approved", "version": "2026-12-01", "timestamp": "<RFC 3339>", "data": {...}}
//
// data holds "app_id" for every app event, plus "detail" (a reason, a
// secret or key id) when there is one; webhook.test holds "endpoint_id".
const (
	EventAuthorizationGranted = "authorization.granted"
	EventAuthorizationRevoked = "authorization.revoked"
	EventTokenRevoked         = "token.revoked"
	EventAppApproved          = "app.approved"
	EventAppRejected          = "app.rejected"
	EventAppDisabled          = "app.disabled"
	EventAppSecretRotated     = "app.secret_rotated"
	EventAPIKeyCreated        = "api_key.created"
	EventAPIKeyRevoked        = "api_key.revoked"
	EventTest                 = "webhook.test"
)

// Catalog lists every event type an endpoint may subscribe to.
var Catalog = []string{
	EventAuthorizationGranted, EventAuthorizationRevoked, EventTokenRevoked,
	EventAppApproved, EventAppRejected, EventAppDisabled, EventAppSecretRotated,
	EventAPIKeyCreated, EventAPIKeyRevoked, EventTest,
}

// Defaults.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultRotationGrace = 24 * time.Hour
	// DefaultDisableAfter: an endpoint failing without a single success for
	// this long is disabled.
	DefaultDisableAfter = 72 * time.Hour
	// MaxResponseLog is how much of a response body the attempt log keeps.
	MaxResponseLog = 1024
)

// RetryPolicy spans about three days: 1m, 2m, 4m … doubling to 8h, each
// plus up to half again at random; the 16th attempt is the last (between
// roughly 57 and 85 hours after the first).
var RetryPolicy = outbox.Policy{MaxAttempts: 16, BaseDelay: time.Minute, MaxDelay: 8 * time.Hour}

// Errors.
var (
	ErrNotFound = errors.New("webhook: not found")
	ErrInvalid  = errors.New("webhook: invalid input")
	ErrDisabled = errors.New("webhook: the endpoint is disabled; enable it first")
)

// InvalidError says which field was refused and why (safe to show).
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string        { return "webhook: " + e.Field + ": " + e.Message }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }
func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, a...)}
}

// Config configures the Service. Store, Box, Outbox, Apps, Now are required.
type Config struct {
	Store  store.Store
	Box    *secret.Box
	Outbox *outbox.Outbox
	// Apps decides who may manage an app's endpoints (its owner, an
	// administrator, the operator).
	Apps   *apps.Service
	Now    func() time.Time
	Random io.Reader
	Log    *slog.Logger
	// Addresses is the SSRF policy for endpoint URLs.
	Addresses AddressPolicy
	// Timeout bounds one delivery attempt (DefaultTimeout).
	Timeout time.Duration
	// RotationGrace is how long a rotated-out secret keeps signing.
	RotationGrace time.Duration
	// DisableAfter: see DefaultDisableAfter.
	DisableAfter time.Duration
	// Transport, when set, replaces the address-checking transport (tests).
	Transport http.RoundTripper
	// DeliveryRetention: Prune deletes delivered and failed deliveries
	// last changed longer ago than this; 0 keeps them.
	DeliveryRetention time.Duration
}

// Service manages endpoints and delivers events.
type Service struct {
	cfg    Config
	client *http.Client
}

// New returns a Service and registers its delivery handler on the outbox.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Box == nil || cfg.Outbox == nil || cfg.Apps == nil || cfg.Now == nil {
		return nil, errors.New("webhook: store, box, outbox, apps and clock are required")
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RotationGrace <= 0 {
		cfg.RotationGrace = DefaultRotationGrace
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if err := cfg.Addresses.Validate(); err != nil {
		return nil, err
	}
	tr := cfg.Transport
	if tr == nil {
		tr = cfg.Addresses.transport()
	}
	s := &Service{cfg: cfg, client: &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// "redirects are not followed": a 3xx is the endpoint's answer, a
		// failure like any other non-2xx (and a redirect could point
		// anywhere, past the address checks).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	cfg.Outbox.HandlePolicy(Topic, s.deliver, RetryPolicy)
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newSecret is "whsec_" + base64 of 32 random bytes, the Standard Webhooks
// form every library accepts.
func (s *Service) newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

func secretContext(endpointID string) string { return "webhook-secret:" + endpointID }

// Endpoint is what owners see of an endpoint; the secret never leaves
// except once, on creation and rotation.
type Endpoint struct {
	ID             string     `json:"id"`
	AppID          string     `json:"app_id"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"event_types"`
	Description    string     `json:"description"`
	Disabled       bool       `json:"disabled"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	// PreviousSecretUntil: after a rotation, the old secret signs too until
	// then.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

func view(e *store.WebhookEndpoint, now time.Time) Endpoint {
	v := Endpoint{
		ID: e.ID, AppID: e.ClientID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description,
		Disabled: e.DisabledAt != nil, DisabledAt: e.DisabledAt, DisabledReason: e.DisabledReason,
		FailingSince: e.FailingSince, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if v.EventTypes == nil {
		v.EventTypes = []string{}
	}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		v.PreviousSecretUntil = e.PreviousSecretExpiresAt
	}
	return v
}

// EndpointInput is what an owner sets.
type EndpointInput struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

func (s *Service) checkInput(ctx context.Context, in *EndpointInput) error {
	in.Description = strings.TrimSpace(in.Description)
	if len(in.Description) > 500 {
		return invalid("description", "at most 500 characters")
	}
	if len(in.EventTypes) == 0 {
		return invalid("event_types", "choose at least one of %s", strings.Join(Catalog, ", "))
	}
	seen := map[string]bool{}
	var types []string
	for _, t := range in.EventTypes {
		if !slices.Contains(Catalog, t) {
			return invalid("event_types", "unknown event type %q (known: %s)", t, strings.Join(Catalog, ", "))
		}
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	in.EventTypes = types
	u, err := s.cfg.Addresses.CheckURL(ctx, in.URL)
	if err != nil {
		return err
	}
	in.URL = u
	return nil
}

// app checks that a may manage the app's endpoints.
func (s *Service) app(ctx context.Context, a apps.Actor, appID string) error {
	if _, err := s.cfg.Apps.Get(ctx, a, appID); err != nil {
		if errors.Is(err, apps.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	return nil
}

// endpoint loads an endpoint a may manage; ErrNotFound otherwise (the same
// answer, so ids cannot be probed).
func (s *Service) endpoint(ctx context.Context, a apps.Actor, id string) (*store.WebhookEndpoint, error) {
	e, err := s.cfg.Store.WebhookEndpointByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.app(ctx, a, e.ClientID); err != nil {
		return nil, err
	}
	return e, nil
}

// Create registers an endpoint for the app and returns its secret, shown
// this once.
func (s *Service) Create(ctx context.Context, a apps.Actor, appID string, in EndpointInput) (Endpoint, string, error) {
	if err := s.app(ctx, a, appID); err != nil {
		return Endpoint{}, "", err
	}
	if err := s.checkInput(ctx, &in); err != nil {
		return Endpoint{}, "", err
	}
	id, err := s.randomHex(12)
	if err != nil {
		return Endpoint{}, "", err
	}
	id = "whep_" + id
	sec, err := s.newSecret()
	if err != nil {
		return Endpoint{}, "", err
	}
	sealed, err := s.cfg.Box.Seal([]byte(sec), secretContext(id))
	if err != nil {
		return Endpoint{}, "", err
	}
	now := s.now()
	e := &store.WebhookEndpoint{ID: id, ClientID: appID, URL: in.URL, EventTypes: in.EventTypes, Description: in.Description,
		Secret: sealed, CreatedAt: now, UpdatedAt: now}
	if err := s.cfg.Store.CreateWebhookEndpoint(ctx, e); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Endpoint{}, "", ErrNotFound
		}
		return Endpoint{}, "", err
	}
	return view(e, now), sec, nil
}

// List lists the app's endpoints.
func (s *Service) List(ctx context.Context, a apps.Actor, appID string) ([]Endpoint, error) {
	if err := s.app(ctx, a, appID); err != nil {
		return nil, err
	}
	list, err := s.cfg.Store.ListWebhookEndpoints(ctx, appID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]Endpoint, 0, len(list))
	for i := range list {
		out = append(out, view(&list[i], now))
	}
	return out, nil
}

// Get returns one endpoint.
func (s *Service) Get(ctx context.Context, a apps.Actor, id string) (Endpoint, error) {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return Endpoint{}, err
	}
	return view(e, s.now()), nil
}

// Update changes an endpoint's URL, event types and description.
func (s *Service) Update(ctx context.Context, a apps.Actor, id string, in EndpointInput) (Endpoint, error) {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return Endpoint{}, err
	}
	if err := s.checkInput(ctx, &in); err != nil {
		return Endpoint{}, err
	}
	e.URL, e.EventTypes, e.Description, e.UpdatedAt = in.URL, in.EventTypes, in.Description, s.now()
	if err := s.cfg.Store.UpdateWebhookEndpoint(ctx, e); err != nil {
		return Endpoint{}, err
	}
	return view(e, e.UpdatedAt), nil
}

// SetEnabled disables an endpoint (reason shown to its owner) or enables
// it again, ending any run of failures.
func (s *Service) SetEnabled(ctx context.Context, a apps.Actor, id string, enabled bool, reason string) (Endpoint, error) {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return Endpoint{}, err
	}
	now := s.now()
	if enabled {
		e.DisabledAt, e.DisabledReason, e.FailingSince = nil, "", nil
	} else if e.DisabledAt == nil {
		if reason = strings.TrimSpace(reason); reason == "" {
			reason = "disabled by its owner"
		}
		e.DisabledAt, e.DisabledReason = &now, reason
	}
	e.UpdatedAt = now
	if err := s.cfg.Store.UpdateWebhookEndpoint(ctx, e); err != nil {
		return Endpoint{}, err
	}
	return view(e, now), nil
}

// Delete removes an endpoint and its delivery log.
func (s *Service) Delete(ctx context.Context, a apps.Actor, id string) error {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return err
	}
	err = s.cfg.Store.DeleteWebhookEndpoint(ctx, e.ClientID, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// RotateSecret gives the endpoint a new secret, returned this once; the
// old one keeps signing alongside it for the grace period, so receivers
// can switch without missing a message.
func (s *Service) RotateSecret(ctx context.Context, a apps.Actor, id string) (string, Endpoint, error) {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return "", Endpoint{}, err
	}
	sec, err := s.newSecret()
	if err != nil {
		return "", Endpoint{}, err
	}
	sealed, err := s.cfg.Box.Seal([]byte(sec), secretContext(id))
	if err != nil {
		return "", Endpoint{}, err
	}
	now := s.now()
	until := now.Add(s.cfg.RotationGrace)
	e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret, e.UpdatedAt = e.Secret, &until, sealed, now
	if err := s.cfg.Store.UpdateWebhookEndpoint(ctx, e); err != nil {
		return "", Endpoint{}, err
	}
	return sec, view(e, now), nil
}

// secrets returns the secrets that sign for e now: the current one, then
// the previous one during its grace period.
func (s *Service) secrets(e *store.WebhookEndpoint, now time.Time) ([]string, error) {
	cur, err := s.cfg.Box.Open(e.Secret, secretContext(e.ID))
	if err != nil {
		return nil, fmt.Errorf("webhook: open secret: %w", err)
	}
	out := []string{string(cur)}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		prev, err := s.cfg.Box.Open(e.PreviousSecret, secretContext(e.ID))
		if err != nil {
			return nil, fmt.Errorf("webhook: open previous secret: %w", err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// payload is the body of every event.
type payload struct {
	Type      string         `json:"type"`
	Version   string         `json:"version"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Emit queues event typ with data for every enabled endpoint of the app
// subscribed to it. tx is the transaction of the change the event reports:
// the deliveries commit or roll back with it.
func (s *Service) Emit(ctx context.Context, tx store.Store, appID, typ string, data map[string]any) error {
	eps, err := tx.ListWebhookEndpoints(ctx, appID)
	if err != nil {
		return err
	}
	for i := range eps {
		e := &eps[i]
		if e.DisabledAt != nil || !slices.Contains(e.EventTypes, typ) {
			continue
		}
		if _, err := s.queue(ctx, tx, e, typ, data); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) queue(ctx context.Context, tx store.Store, e *store.WebhookEndpoint, typ string, data map[string]any) (string, error) {
	now := s.now()
	if data == nil {
		data = map[string]any{}
	}
	body, err := json.Marshal(payload{Type: typ, Version: CatalogVersion, Timestamp: now, Data: data})
	if err != nil {
		return "", err
	}
	id, err := s.randomHex(16)
	if err != nil {
		return "", err
	}
	d := &store.WebhookDelivery{ID: "msg_" + id, EndpointID: e.ID, EventType: typ, Payload: string(body),
		State: store.WebhookPending, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateWebhookDelivery(ctx, d); err != nil {
		return "", err
	}
	if _, err := s.cfg.Outbox.Enqueue(ctx, tx, Topic, d.ID); err != nil {
		return "", err
	}
	return d.ID, nil
}

// OnAppChange is an apps.Config.OnChange: it turns the app events of the
// catalog into webhooks, inside the change's transaction.
func (s *Service) OnAppChange(ctx context.Context, tx store.Store, ev apps.Event) error {
	typ, ok := map[string]string{
		apps.EventApproved:      EventAppApproved,
		apps.EventRejected:      EventAppRejected,
		apps.EventDisabled:      EventAppDisabled,
		apps.EventSecretRotated: EventAppSecretRotated,
		apps.EventAPIKeyCreated: EventAPIKeyCreated,
		apps.EventAPIKeyRevoked: EventAPIKeyRevoked,
	}[ev.Kind]
	if !ok {
		return nil
	}
	data := map[string]any{"app_id": ev.AppID}
	if ev.Detail != "" {
		switch typ {
		case EventAPIKeyCreated, EventAPIKeyRevoked:
			data["key_id"] = ev.Detail
		case EventAppSecretRotated:
			data["secret_id"] = ev.Detail
		default:
			data["reason"] = ev.Detail
		}
	}
	return s.Emit(ctx, tx, ev.AppID, typ, data)
}

// OnOAuthEvent is an oauth.Options.OnEvent: a user's consent and
// revocation and a token's revocation are told to the client's endpoints,
// inside the change's transaction. data: "app_id", "user_id", and
// "scopes" (authorization.granted) or "token_type" (token.revoked).
func (s *Service) OnOAuthEvent(ctx context.Context, tx store.Store, ev oauth.Event) error {
	data := map[string]any{"app_id": ev.ClientID, "user_id": ev.UserID}
	switch ev.Kind {
	case oauth.EventAuthorizationGranted:
		data["scopes"] = ev.Scopes
		return s.Emit(ctx, tx, ev.ClientID, EventAuthorizationGranted, data)
	case oauth.EventAuthorizationRevoked:
		return s.Emit(ctx, tx, ev.ClientID, EventAuthorizationRevoked, data)
	case oauth.EventTokenRevoked:
		data["token_type"] = ev.TokenKind
		return s.Emit(ctx, tx, ev.ClientID, EventTokenRevoked, data)
	}
	return nil
}

// SendTest queues a webhook.test event to the endpoint, whatever it
// subscribed to, and returns the delivery id.
func (s *Service) SendTest(ctx context.Context, a apps.Actor, id string) (string, error) {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return "", err
	}
	if e.DisabledAt != nil {
		return "", ErrDisabled
	}
	var did string
	err = s.cfg.Store.InTx(ctx, func(tx store.Store) error {
		did, err = s.queue(ctx, tx, e, EventTest, map[string]any{"endpoint_id": e.ID, "app_id": e.ClientID})
		return err
	})
	return did, err
}

// Deliveries lists the endpoint's newest deliveries (without attempts).
func (s *Service) Deliveries(ctx context.Context, a apps.Actor, id string, limit int) ([]store.WebhookDelivery, error) {
	if _, err := s.endpoint(ctx, a, id); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return s.cfg.Store.ListWebhookDeliveries(ctx, id, limit)
}

// Delivery returns one delivery of the endpoint with its attempts.
func (s *Service) Delivery(ctx context.Context, a apps.Actor, id, deliveryID string) (*store.WebhookDelivery, error) {
	if _, err := s.endpoint(ctx, a, id); err != nil {
		return nil, err
	}
	d, err := s.cfg.Store.WebhookDeliveryByID(ctx, deliveryID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) || err == nil && d.EndpointID != id {
		return nil, ErrNotFound
	}
	return d, err
}

// Redeliver sends a delivered or failed delivery again, with the same
// webhook-id (receivers de-duplicate on it) and a fresh retry schedule; a
// pending one is left to its schedule.
func (s *Service) Redeliver(ctx context.Context, a apps.Actor, id, deliveryID string) error {
	e, err := s.endpoint(ctx, a, id)
	if err != nil {
		return err
	}
	if e.DisabledAt != nil {
		return ErrDisabled
	}
	d, err := s.Delivery(ctx, a, id, deliveryID)
	if err != nil {
		return err
	}
	return s.cfg.Store.InTx(ctx, func(tx store.Store) error {
		// A pending delivery is queued already: a second message could
		// put it in flight twice at once.
		moved, err := tx.RequeueWebhookDelivery(ctx, d.ID, s.now())
		if err != nil || !moved {
			return err
		}
		_, err = s.cfg.Outbox.Enqueue(ctx, tx, Topic, d.ID)
		return err
	})
}

// Prune deletes the delivered and failed deliveries (with their attempts)
// last changed longer ago than the retention, and returns how many; none
// when the retention is 0. A pending delivery is never pruned: its outbox
// message would find it gone.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	if s.cfg.DeliveryRetention <= 0 {
		return 0, nil
	}
	return s.cfg.Store.DeleteFinishedWebhookDeliveries(ctx, s.now().Add(-s.cfg.DeliveryRetention))
}
