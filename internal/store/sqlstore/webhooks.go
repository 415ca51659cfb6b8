package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const webhookEndpointCols = `id, client_id, url, event_types, description, secret, previous_secret, previous_secret_expires_at,
	disabled_at, disabled_reason, failing_since, created_at, updated_at`

func scanWebhookEndpoint(row interface{ Scan(...any) error }, e *store.WebhookEndpoint) error {
	var (
		types          string
		prev, dis, fai sql.NullInt64
		ca, ua         int64
	)
	if err := row.Scan(&e.ID, &e.ClientID, &e.URL, &types, &e.Description, &e.Secret, &e.PreviousSecret, &prev,
		&dis, &e.DisabledReason, &fai, &ca, &ua); err != nil {
		return err
	}
	list, err := decodeList(types)
	if err != nil {
		return err
	}
	e.EventTypes = list
	e.PreviousSecretExpiresAt, e.DisabledAt, e.FailingSince = optTime(prev), optTime(dis), optTime(fai)
	e.CreatedAt, e.UpdatedAt = fromMS(ca), fromMS(ua)
	return nil
}

// CreateWebhookEndpoint implements store.Webhooks.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	types, err := encodeList(e.EventTypes)
	if err != nil {
		return mapErr("create webhook endpoint", err)
	}
	_, err = s.wq.exec(ctx, `INSERT INTO webhook_endpoints (`+webhookEndpointCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.ClientID, e.URL, types, e.Description, e.Secret, e.PreviousSecret, nullMS(e.PreviousSecretExpiresAt),
		nullMS(e.DisabledAt), e.DisabledReason, nullMS(e.FailingSince), ms(e.CreatedAt), ms(e.UpdatedAt))
	return mapErr("create webhook endpoint", err)
}

// WebhookEndpointByID implements store.Webhooks. It reads through the write
// pool: the delivery worker must see a rotation or a disable committed a
// moment ago.
func (s *Store) WebhookEndpointByID(ctx context.Context, id string) (*store.WebhookEndpoint, error) {
	row, err := s.wq.queryRow(ctx, `SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE id = ?`, id)
	if err != nil {
		return nil, mapErr("webhook endpoint", err)
	}
	var e store.WebhookEndpoint
	if err := scanWebhookEndpoint(row, &e); err != nil {
		return nil, mapErr("webhook endpoint", err)
	}
	return &e, nil
}

// ListWebhookEndpoints implements store.Webhooks.
func (s *Store) ListWebhookEndpoints(ctx context.Context, clientID string) ([]store.WebhookEndpoint, error) {
	rows, err := s.wq.query(ctx, `SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE client_id = ?
		ORDER BY created_at, id`, clientID)
	if err != nil {
		return nil, mapErr("list webhook endpoints", err)
	}
	defer rows.Close()
	var out []store.WebhookEndpoint
	for rows.Next() {
		var e store.WebhookEndpoint
		if err := scanWebhookEndpoint(rows, &e); err != nil {
			return nil, mapErr("list webhook endpoints", err)
		}
		out = append(out, e)
	}
	return out, mapErr("list webhook endpoints", rows.Err())
}

// UpdateWebhookEndpoint implements store.Webhooks.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	types, err := encodeList(e.EventTypes)
	if err != nil {
		return mapErr("update webhook endpoint", err)
	}
	res, err := s.wq.exec(ctx, `UPDATE webhook_endpoints SET url = ?, event_types = ?, description = ?, secret = ?,
		previous_secret = ?, previous_secret_expires_at = ?, disabled_at = ?, disabled_reason = ?, failing_since = ?, updated_at = ?
		WHERE id = ?`,
		e.URL, types, e.Description, e.Secret, e.PreviousSecret, nullMS(e.PreviousSecretExpiresAt),
		nullMS(e.DisabledAt), e.DisabledReason, nullMS(e.FailingSince), ms(e.UpdatedAt), e.ID)
	return affectedOne("update webhook endpoint", res, err)
}

// DeleteWebhookEndpoint implements store.Webhooks.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, clientID, id string) error {
	res, err := s.wq.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND client_id = ?`, id, clientID)
	return affectedOne("delete webhook endpoint", res, err)
}

// MarkWebhookEndpointFailing implements store.Webhooks. COALESCE keeps the
// start of the run in one statement, so concurrent failures agree on it.
func (s *Store) MarkWebhookEndpointFailing(ctx context.Context, id string, at time.Time) (time.Time, error) {
	row, err := s.wq.queryRow(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?)
		WHERE id = ? RETURNING failing_since`, ms(at), id)
	if err != nil {
		return time.Time{}, mapErr("mark webhook endpoint failing", err)
	}
	var since int64
	if err := row.Scan(&since); err != nil {
		return time.Time{}, mapErr("mark webhook endpoint failing", err)
	}
	return fromMS(since), nil
}

// ClearWebhookEndpointFailing implements store.Webhooks.
func (s *Store) ClearWebhookEndpointFailing(ctx context.Context, id string) error {
	_, err := s.wq.exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`, id)
	return mapErr("clear webhook endpoint failing", err)
}

// DisableWebhookEndpoint implements store.Webhooks.
func (s *Store) DisableWebhookEndpoint(ctx context.Context, id string, at time.Time, reason string) error {
	res, err := s.wq.exec(ctx, `UPDATE webhook_endpoints SET disabled_at = COALESCE(disabled_at, ?),
		disabled_reason = CASE WHEN disabled_at IS NULL THEN ? ELSE disabled_reason END, updated_at = ? WHERE id = ?`,
		ms(at), reason, ms(at), id)
	return affectedOne("disable webhook endpoint", res, err)
}

// CreateWebhookDelivery implements store.Webhooks.
func (s *Store) CreateWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	_, err := s.wq.exec(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.EndpointID, d.EventType, d.Payload, d.State, ms(d.CreatedAt), ms(d.UpdatedAt))
	return mapErr("create webhook delivery", err)
}

const webhookDeliveryCols = `id, endpoint_id, event_type, payload, state, created_at, updated_at`

func scanWebhookDelivery(row interface{ Scan(...any) error }, d *store.WebhookDelivery) error {
	var ca, ua int64
	if err := row.Scan(&d.ID, &d.EndpointID, &d.EventType, &d.Payload, &d.State, &ca, &ua); err != nil {
		return err
	}
	d.CreatedAt, d.UpdatedAt = fromMS(ca), fromMS(ua)
	return nil
}

// WebhookDeliveryByID implements store.Webhooks.
func (s *Store) WebhookDeliveryByID(ctx context.Context, id string) (*store.WebhookDelivery, error) {
	row, err := s.wq.queryRow(ctx, `SELECT `+webhookDeliveryCols+` FROM webhook_deliveries WHERE id = ?`, id)
	if err != nil {
		return nil, mapErr("webhook delivery", err)
	}
	var d store.WebhookDelivery
	if err := scanWebhookDelivery(row, &d); err != nil {
		return nil, mapErr("webhook delivery", err)
	}
	rows, err := s.wq.query(ctx, `SELECT attempt, at, status, latency_ms, response, error FROM webhook_attempts
		WHERE delivery_id = ? ORDER BY attempt`, id)
	if err != nil {
		return nil, mapErr("webhook delivery attempts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a       store.WebhookAttempt
			at, lat int64
		)
		if err := rows.Scan(&a.Attempt, &at, &a.Status, &lat, &a.Response, &a.Error); err != nil {
			return nil, mapErr("webhook delivery attempts", err)
		}
		a.At, a.Latency = fromMS(at), time.Duration(lat)*time.Millisecond
		d.Attempts = append(d.Attempts, a)
	}
	return &d, mapErr("webhook delivery attempts", rows.Err())
}

// ListWebhookDeliveries implements store.Webhooks.
func (s *Store) ListWebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.wq.query(ctx, `SELECT `+webhookDeliveryCols+` FROM webhook_deliveries WHERE endpoint_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, endpointID, limit)
	if err != nil {
		return nil, mapErr("list webhook deliveries", err)
	}
	defer rows.Close()
	var out []store.WebhookDelivery
	for rows.Next() {
		var d store.WebhookDelivery
		if err := scanWebhookDelivery(rows, &d); err != nil {
			return nil, mapErr("list webhook deliveries", err)
		}
		out = append(out, d)
	}
	return out, mapErr("list webhook deliveries", rows.Err())
}

// RecordWebhookAttempt implements store.Webhooks: the attempt row and the
// state change commit together.
func (s *Store) RecordWebhookAttempt(ctx context.Context, deliveryID string, a store.WebhookAttempt, state string) error {
	return mapErr("record webhook attempt", s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE webhook_deliveries SET state = ?, updated_at = ? WHERE id = ?`, state, ms(a.At), deliveryID)
		if err := affectedOne("record webhook attempt", res, err); err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, response, error)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, deliveryID, a.Attempt, ms(a.At), a.Status, a.Latency.Milliseconds(), a.Response, a.Error)
		if err != nil {
			return mapErr("record webhook attempt", err)
		}
		return nil
	}))
}

// RequeueWebhookDelivery implements store.Webhooks. The state condition
// in the UPDATE decides between concurrent callers.
func (s *Store) RequeueWebhookDelivery(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.wq.exec(ctx, `UPDATE webhook_deliveries SET state = ?, updated_at = ? WHERE id = ? AND state <> ?`,
		store.WebhookPending, ms(at), id, store.WebhookPending)
	if err != nil {
		return false, mapErr("requeue webhook delivery", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, mapErr("requeue webhook delivery", err)
	}
	if n == 1 {
		return true, nil
	}
	if _, err := s.WebhookDeliveryByID(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// DeleteFinishedWebhookDeliveries implements store.Webhooks. The attempts go
// with their delivery (ON DELETE CASCADE).
func (s *Store) DeleteFinishedWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteCount(ctx, "delete finished webhook deliveries",
		`DELETE FROM webhook_deliveries WHERE state IN (?, ?) AND updated_at < ?`,
		store.WebhookDelivered, store.WebhookFailed, ms(before))
}
