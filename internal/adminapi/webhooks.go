package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// Webhooks manages apps' webhook endpoints (*webhook.Service).
type Webhooks interface {
	List(ctx context.Context, a apps.Actor, appID string) ([]webhook.Endpoint, error)
	Create(ctx context.Context, a apps.Actor, appID string, in webhook.EndpointInput) (webhook.Endpoint, string, error)
	Deliveries(ctx context.Context, a apps.Actor, id string, limit int) ([]store.WebhookDelivery, error)
	Delivery(ctx context.Context, a apps.Actor, id, deliveryID string) (*store.WebhookDelivery, error)
	Redeliver(ctx context.Context, a apps.Actor, id, deliveryID string) error
	SendTest(ctx context.Context, a apps.Actor, id string) (string, error)
}

// WithWebhooks adds the webhook routes.
func (h *Handler) WithWebhooks(w Webhooks) *Handler {
	h.webhooks = w
	return h
}

func (h *Handler) webhookRoutes() map[Route]http.HandlerFunc {
	if h.webhooks == nil {
		return nil
	}
	return map[Route]http.HandlerFunc{
		{"GET", "/admin/apps/{id}/webhooks"}:                        h.listWebhooks,
		{"POST", "/admin/apps/{id}/webhooks"}:                       h.createWebhook,
		{"GET", "/admin/webhooks/{id}/deliveries"}:                  h.webhookDeliveries,
		{"POST", "/admin/webhooks/{id}/deliveries/{did}/redeliver"}: h.redeliverWebhook,
		{"POST", "/admin/webhooks/{id}/test"}:                       h.testWebhook,
	}
}

func adminActor(r *http.Request) apps.Actor {
	id, _ := r.Context().Value(actorKey{}).(string)
	return apps.AdminActor(id, false)
}

// webhookError renders the webhook service's errors.
func (h *Handler) webhookError(w http.ResponseWriter, err error) {
	var inv *webhook.InvalidError
	switch {
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, "invalid_request", inv.Field+": "+inv.Message)
	case errors.Is(err, webhook.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "No such app, webhook or delivery.")
	case errors.Is(err, webhook.ErrDisabled):
		writeError(w, http.StatusConflict, "webhook_disabled", "The webhook is disabled; enable it first.")
	default:
		h.serverError(w, "webhooks", err)
	}
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := h.webhooks.List(r.Context(), adminActor(r), r.PathValue("id"))
	if err != nil {
		h.webhookError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": list})
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhook.EndpointInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		// The app is checked first, so an unknown app answers 404 whatever the body.
		if _, lerr := h.webhooks.List(r.Context(), adminActor(r), r.PathValue("id")); lerr != nil {
			h.webhookError(w, lerr)
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "The body must be a JSON object: {\"url\", \"event_types\", \"description\"}.")
		return
	}
	ep, secret, err := h.webhooks.Create(r.Context(), adminActor(r), r.PathValue("id"), in)
	if err != nil {
		h.webhookError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"webhook": ep, "secret": secret})
}

// Delivery is one delivery in the log, with its attempts.
type Delivery struct {
	ID        string    `json:"id"`
	EventType string    `json:"event_type"`
	State     string    `json:"state"`
	Payload   string    `json:"payload"`
	Attempts  []Attempt `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	Attempt   int       `json:"attempt"`
	At        time.Time `json:"at"`
	Status    int       `json:"status"`
	LatencyMS int64     `json:"latency_ms"`
	Response  string    `json:"response"`
	Error     string    `json:"error"`
}

func (h *Handler) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	a, id := adminActor(r), r.PathValue("id")
	list, err := h.webhooks.Deliveries(r.Context(), a, id, 50)
	if err != nil {
		h.webhookError(w, err)
		return
	}
	out := make([]Delivery, 0, len(list))
	for _, d := range list {
		full, err := h.webhooks.Delivery(r.Context(), a, id, d.ID)
		if err != nil {
			h.webhookError(w, err)
			return
		}
		v := Delivery{ID: full.ID, EventType: full.EventType, State: full.State, Payload: full.Payload,
			Attempts: []Attempt{}, CreatedAt: full.CreatedAt, UpdatedAt: full.UpdatedAt}
		for _, at := range full.Attempts {
			v.Attempts = append(v.Attempts, Attempt{Attempt: at.Attempt, At: at.At, Status: at.Status,
				LatencyMS: at.Latency.Milliseconds(), Response: at.Response, Error: at.Error})
		}
		out = append(out, v)
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

func (h *Handler) redeliverWebhook(w http.ResponseWriter, r *http.Request) {
	did := r.PathValue("did")
	if err := h.webhooks.Redeliver(r.Context(), adminActor(r), r.PathValue("id"), did); err != nil {
		h.webhookError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"delivery_id": did})
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request) {
	did, err := h.webhooks.SendTest(r.Context(), adminActor(r), r.PathValue("id"))
	if err != nil {
		h.webhookError(w, err)
		return
	}
	httpx.NoStore(w)
	httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"delivery_id": did})
}
