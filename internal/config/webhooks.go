package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// WebhookConfig is where webhooks may be sent.
type WebhookConfig struct {
	// AllowedHosts are host names and CIDRs exempt from the refusal of
	// loopback, private, link-local and metadata addresses.
	AllowedHosts []string
	// DevLoopback allows endpoints on loopback, over http too
	// (development and tests only).
	DevLoopback bool
	// DeliveryRetention: delivered and failed deliveries (with their
	// attempts) older than this are deleted; 0 keeps them.
	DeliveryRetention time.Duration
}

// webhookSettings are the webhook rows of the settings table.
func webhookSettings() []setting {
	return []setting{
		{"webhook_allowed_hosts", "", "comma-separated host names and CIDRs webhook endpoints may use although they are internal (loopback, private, link-local and metadata addresses are refused otherwise, at registration and after DNS at each delivery)", true,
			func(c *Config, v string) error {
				c.Webhooks.AllowedHosts = nil
				for _, h := range strings.Split(v, ",") {
					if h = strings.TrimSpace(h); h == "" {
						continue
					}
					if strings.Contains(h, "/") {
						if _, err := netip.ParsePrefix(h); err != nil {
							return fmt.Errorf("%q is not a CIDR", h)
						}
					}
					c.Webhooks.AllowedHosts = append(c.Webhooks.AllowedHosts, h)
				}
				return nil
			}},
		{"webhook_dev_loopback", "false", "development only: allow webhook endpoints on loopback (127.0.0.1, ::1, localhost), over plain http too", true,
			boolean(func(c *Config) *bool { return &c.Webhooks.DevLoopback })},
		{"webhook_delivery_retention", "720h", "delivered and failed webhook deliveries (and their attempts) last changed longer ago than this are deleted, hourly; pending ones are kept. 0s: keep everything", true,
			dur(func(c *Config) *time.Duration { return &c.Webhooks.DeliveryRetention })},
	}
}
