package app

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/adminapi"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// buildWebhooks wires signed webhooks: deliveries travel on the outbox
// (topic "webhook", its own three-day retry schedule) and the app service
// decides who may manage an app's endpoints. It runs after buildApps and
// buildEmail (which builds the outbox).
func (a *App) buildWebhooks() error {
	svc, err := webhook.New(webhook.Config{
		Store: a.Store, Box: a.Box, Outbox: a.Outbox, Apps: a.Apps, Now: a.Now, Random: a.Rand, Log: a.Log,
		Addresses:         webhook.AddressPolicy{Allowed: a.Config.Webhooks.AllowedHosts, DevLoopback: a.Config.Webhooks.DevLoopback},
		DeliveryRetention: a.Config.Webhooks.DeliveryRetention,
	})
	if err != nil {
		return err
	}
	a.Webhooks = svc
	if a.portal != nil {
		a.portal.WithWebhooks(svc)
	}
	return nil
}

// onAppChange is the app service's OnChange: app events of the webhook
// catalog are queued in the change's transaction.
func (a *App) onAppChange(ctx context.Context, tx store.Store, ev apps.Event) error {
	if a.Webhooks == nil {
		return nil
	}
	return a.Webhooks.OnAppChange(ctx, tx, ev)
}

// withWebhooks adds the webhook routes to the admin API.
func (a *App) withWebhooks(h *adminapi.Handler) *adminapi.Handler {
	if a.Webhooks == nil {
		return h
	}
	return h.WithWebhooks(a.Webhooks)
}

// onOAuthEvent is the OAuth service's OnEvent: consents, revocations by
// users and token revocations become webhooks in their transactions.
func (a *App) onOAuthEvent(ctx context.Context, tx store.Store, ev oauth.Event) error {
	if a.Webhooks == nil {
		return nil
	}
	return a.Webhooks.OnOAuthEvent(ctx, tx, ev)
}

// pruneWebhooks is part of the outbox's hourly housekeeping: the delivery
// log past webhook_delivery_retention goes, like the finished outbox
// messages that carried it.
func (a *App) pruneWebhooks(ctx context.Context) {
	if a.Webhooks == nil {
		return
	}
	if n, err := a.Webhooks.Prune(ctx); err != nil && ctx.Err() == nil {
		a.Log.Warn("housekeeping: webhook deliveries", "err", err)
	} else if n > 0 {
		a.Log.Info("webhooks: pruned deliveries past the retention", "deliveries", n)
	}
}
