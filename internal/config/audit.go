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
}

// auditSettings are the rows of the settings table for the audit log.
func auditSettings() []setting {
	return []setting{
		{"audit_retention", "2160h", "audit log entries older than this are deleted; a signed checkpoint of the last one deleted keeps `gatehouse audit verify` working. 0s: keep everything", true, dur(func(c *Config) *time.Duration { return &c.Audit.Retention })},
		{"audit_stream", "", "also write each audit entry as one JSON line, for a SIEM: stdout, or a file path (appended); empty: off", true, str(func(c *Config) *string { return &c.Audit.Stream })},
	}
}
