package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/webhook"
)

// deliver is the outbox handler of Topic: payload is a delivery id. One
// attempt: POST the stored body, signed now, and log the outcome. 2xx is
// success; any other answer, a timeout or a refused address is retried by
// the outbox until the policy's last attempt.
func (s *Service) deliver(ctx context.Context, deliveryID string) error {
	st := s.cfg.Store
	d, err := st.WebhookDeliveryByID(ctx, deliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return outbox.Permanent(errors.New("delivery gone (its endpoint was deleted)"))
	}
	if err != nil {
		return err
	}
	e, err := st.WebhookEndpointByID(ctx, d.EndpointID)
	if errors.Is(err, store.ErrNotFound) {
		return outbox.Permanent(errors.New("endpoint deleted"))
	}
	if err != nil {
		return err
	}
	_, last := outbox.Attempt(ctx)
	n := len(d.Attempts) + 1
	now := s.now()
	if e.DisabledAt != nil {
		msg := "endpoint disabled: " + e.DisabledReason
		s.record(ctx, d.ID, store.WebhookAttempt{Attempt: n, At: now, Error: msg}, store.WebhookFailed)
		return outbox.Permanent(errors.New(msg))
	}
	secrets, err := s.secrets(e, now)
	if err != nil {
		return outbox.Permanent(err)
	}
	status, body, callErr := s.call(ctx, e.URL, d, secrets, now)
	latency := s.cfg.Now().Sub(now)
	a := store.WebhookAttempt{Attempt: n, At: now, Status: status, Latency: latency, Response: body}
	if callErr == nil && status >= 200 && status < 300 {
		s.record(ctx, d.ID, a, store.WebhookDelivered)
		if e.FailingSince != nil {
			if err := st.ClearWebhookEndpointFailing(context.WithoutCancel(ctx), e.ID); err != nil {
				s.cfg.Log.Warn("webhook: clear failing", "endpoint", e.ID, "err", err)
			}
		}
		return nil
	}
	failure := fmt.Sprintf("HTTP %d", status)
	if callErr != nil {
		failure = callErr.Error()
		a.Error = truncate(failure, 500)
	}
	rctx := context.WithoutCancel(ctx)
	since, err := st.MarkWebhookEndpointFailing(rctx, e.ID, now)
	disabled := false
	if err == nil && now.Sub(since) >= s.cfg.DisableAfter {
		reason := fmt.Sprintf("every delivery failed since %s (last: %s)", since.Format(time.RFC3339), truncate(failure, 200))
		if err := st.DisableWebhookEndpoint(rctx, e.ID, now, reason); err != nil {
			s.cfg.Log.Warn("webhook: disable endpoint", "endpoint", e.ID, "err", err)
		} else {
			disabled = true
			s.cfg.Log.Warn("webhook: endpoint disabled", "endpoint", e.ID, "app", e.ClientID, "reason", reason)
		}
	}
	state := store.WebhookPending
	if last || disabled {
		state = store.WebhookFailed
	}
	s.record(ctx, d.ID, a, state)
	if disabled {
		return outbox.Permanent(errors.New(failure))
	}
	return errors.New(failure)
}

func (s *Service) record(ctx context.Context, id string, a store.WebhookAttempt, state string) {
	// The attempt happened; shutting down must not lose its log line.
	if err := s.cfg.Store.RecordWebhookAttempt(context.WithoutCancel(ctx), id, a, state); err != nil {
		s.cfg.Log.Warn("webhook: record attempt", "delivery", id, "attempt", a.Attempt, "err", err)
	}
}

// call POSTs the delivery's body; it returns the status (0 when no answer
// came) and the start of the response body.
func (s *Service) call(ctx context.Context, url string, d *store.WebhookDelivery, secrets []string, now time.Time) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if err := webhook.SetHeaders(req.Header, secrets, d.ID, now, body); err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Webhooks/1")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseLog))
	// Drain a little more so the connection can be reused; no more.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, cleanText(head), nil
}

// cleanText makes a response fit a TEXT column: valid UTF-8, no NUL.
func cleanText(b []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
