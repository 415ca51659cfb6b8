package store

import (
	"context"
	"time"
)

// ---------------------------------------------------------------- webhooks

// WebhookEndpoint is a URL an app registered to be told of events.
type WebhookEndpoint struct {
	ID         string
	ClientID   string
	URL        string
	EventTypes []string
	// Description is the owner's note about the endpoint.
	Description string
	// Secret is the signing secret ("whsec_…") sealed with the master key.
	Secret string
	// PreviousSecret is the secret a rotation replaced, sealed, signing
	// alongside Secret until PreviousSecretExpiresAt ("" when none).
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// DisabledAt is set when the endpoint gets nothing any more; DisabledReason
	// tells the owner why (their choice, or failing for days).
	DisabledAt     *time.Time
	DisabledReason string
	// FailingSince is the first failed attempt of the current run of
	// failures; nil after a success.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Webhook delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// WebhookDelivery is one event sent (or to be sent) to one endpoint. Its ID
// is the webhook-id header: every retry of it carries the same one.
type WebhookDelivery struct {
	ID         string
	EndpointID string
	EventType  string
	Payload    string // the JSON body, byte for byte what is signed
	State      string
	Attempts   []WebhookAttempt // oldest first; filled by WebhookDeliveryByID
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// WebhookAttempt is one HTTP request of a delivery.
type WebhookAttempt struct {
	Attempt  int // 1, 2, …
	At       time.Time
	Status   int // HTTP status; 0 when no response came
	Latency  time.Duration
	Response string // the first KiB of the response body
	Error    string // why it failed without a response (timeout, refused)
}

// Webhooks persists webhook endpoints and their delivery log.
type Webhooks interface {
	// CreateWebhookEndpoint inserts e; ErrNotFound for an unknown client,
	// ErrConflict on a duplicate id.
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// WebhookEndpointByID returns one endpoint; ErrNotFound when unknown.
	WebhookEndpointByID(ctx context.Context, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints lists the client's endpoints, oldest first.
	ListWebhookEndpoints(ctx context.Context, clientID string) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint stores every field of e but ClientID and
	// CreatedAt; ErrNotFound when unknown.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// DeleteWebhookEndpoint removes the client's endpoint and its delivery
	// log; ErrNotFound when it is not theirs.
	DeleteWebhookEndpoint(ctx context.Context, clientID, id string) error
	// MarkWebhookEndpointFailing notes a failed attempt at at: failing_since
	// is set unless a run of failures started earlier. It returns the start
	// of the run.
	MarkWebhookEndpointFailing(ctx context.Context, id string, at time.Time) (time.Time, error)
	// ClearWebhookEndpointFailing ends a run of failures (a success).
	ClearWebhookEndpointFailing(ctx context.Context, id string) error
	// DisableWebhookEndpoint disables the endpoint unless it is disabled
	// already (the first reason stays); ErrNotFound when unknown.
	DisableWebhookEndpoint(ctx context.Context, id string, at time.Time, reason string) error

	// CreateWebhookDelivery inserts d (Attempts ignored); ErrNotFound for an
	// unknown endpoint, ErrConflict on a duplicate id.
	CreateWebhookDelivery(ctx context.Context, d *WebhookDelivery) error
	// WebhookDeliveryByID returns a delivery with its attempts.
	WebhookDeliveryByID(ctx context.Context, id string) (*WebhookDelivery, error)
	// ListWebhookDeliveries lists the endpoint's newest deliveries first, at
	// most limit, without their attempts.
	ListWebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]WebhookDelivery, error)
	// RecordWebhookAttempt logs an attempt and moves the delivery to state;
	// ErrConflict when that attempt number is logged already, ErrNotFound
	// for an unknown delivery.
	RecordWebhookAttempt(ctx context.Context, deliveryID string, a WebhookAttempt, state string) error
	// RequeueWebhookDelivery puts a delivered or failed delivery back to
	// pending and reports true; false when it is pending already (so it is
	// queued once, however many ask at once). ErrNotFound when unknown.
	RequeueWebhookDelivery(ctx context.Context, id string, at time.Time) (bool, error)
	// DeleteFinishedWebhookDeliveries deletes the deliveries delivered or
	// failed (last changed) before before, with their attempts; a pending
	// one is kept, however old, as its outbox message still refers to it.
	// It returns how many deliveries went.
	DeleteFinishedWebhookDeliveries(ctx context.Context, before time.Time) (int64, error)
}
