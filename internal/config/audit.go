package config

import "time"

// AuditConfig holds the audit log settings.
type AuditConfig struct {
	// Retention: entries older than this are pruned (a signed checkpoint
	// keeps the chain verifiable); 0 keeps everything.
	Retention time.Duration
	// Stream copies each committed entry as one JSON line to "stdout" or
	// to the file at this path (appended); "" is off.
	Stream string
	// TokenEntries records token.issued and token.refreshed, one entry per
	// token response: the busiest entry types by far.
	TokenEntries bool
}

// auditSettings are the rows of the settings table for the audit log.
func auditSettings() []setting {
	return []setting{
		{"audit_retention", "2160h", "audit log entries older than this are deleted; a signed checkpoint of the last one deleted keeps `gatehouse audit verify` working. 0s: keep everything", true, dur(func(c *Config) *time.Duration { return &c.Audit.Retention })},
		{"audit_token_entries", "true", "record an entry for every token issued or refreshed (`token.issued`, `token.refreshed`). The busiest entry types: turning them off saves the token endpoint one row per response (`gatehouse bench` measures what they cost); revocations, replays and every other event are still recorded", true, boolean(func(c *Config) *bool { return &c.Audit.TokenEntries })},
		{"audit_stream", "", "also write each audit entry as one JSON line, for a SIEM: stdout, or a file path (appended); empty: off", true, str(func(c *Config) *string { return &c.Audit.Stream })},
	}
}
