package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// deriveAuditKey is the subkey that signs the audit log's pruning
// checkpoints.
func deriveAuditKey(master []byte) ([]byte, error) {
	return secret.Derive(master, "audit-checkpoint-v1")
}

// buildAudit builds the audit log every service records through. It runs
// first: the other services get it as they are built.
func (a *App) buildAudit() error {
	l, err := audit.New(audit.Config{
		Store: a.Store, Now: a.Now, Log: a.Log,
		CheckpointKey: a.auditKey, Retention: a.Config.Audit.Retention,
		OmitTokenEntries: !a.Config.Audit.TokenEntries,
	})
	if err != nil {
		return err
	}
	a.Audit = l
	return nil
}

// auditMeta puts the request's client address (as the trusted-proxy
// resolver rewrote it), user agent and request id where audit.Record finds
// them. It replaces *r rather than passing a copy down, so the route
// pattern the mux sets stays visible to the metrics outside.
func (a *App) auditMeta(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := audit.Meta{UserAgent: cleanText(r.UserAgent(), 256), RequestID: server.RequestID(r.Context())}
		if addr := clientaddr.Of(r); addr.IsValid() {
			m.ClientAddr = addr.Unmap().String()
		}
		*r = *r.WithContext(audit.WithMeta(r.Context(), m))
		next.ServeHTTP(w, r)
	})
}

// cleanText makes a header value storable as TEXT on both databases: valid
// UTF-8, no NUL, at most max bytes.
func cleanText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

// auditAppChange records every change to an app, in the change's
// transaction (apps.Config.OnChange).
func (a *App) auditAppChange(ctx context.Context, tx store.Store, ev apps.Event) error {
	if ev.Kind == apps.EventAPIKeyCreated || ev.Kind == apps.EventAPIKeyRevoked {
		return nil // the API key service records these itself, whoever asks
	}
	kind, id := store.ActorUser, ev.Actor.UserID
	switch {
	case ev.Actor.System:
		kind = store.ActorSystem
	case ev.Actor.Admin:
		kind = store.ActorAdmin
	}
	e := audit.Entry{Type: ev.Kind, ActorKind: kind, ActorID: id, Subject: ev.AppID}
	if ev.Detail != "" {
		e.Details = map[string]any{"detail": ev.Detail}
	}
	return a.Audit.Record(ctx, tx, e)
}

// runAudit prunes the audit log past its retention every hour and, with
// audit_stream set, copies committed entries to the stream until ctx ends.
func (a *App) runAudit(ctx context.Context) {
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := a.Audit.Prune(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("audit: pruning", "err", err)
			} else if n > 0 {
				a.Log.Info("audit: pruned entries past the retention", "entries", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	if a.Config.Audit.Stream == "" {
		return
	}
	var w io.Writer = os.Stdout
	if a.Config.Audit.Stream != "stdout" {
		f, err := os.OpenFile(a.Config.Audit.Stream, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			a.Log.Error("audit: stream not opened", "path", a.Config.Audit.Stream, "err", err)
			return
		}
		w = f
		go func() { <-ctx.Done(); f.Close() }()
	}
	go a.streamAudit(ctx, w)
}

// streamAudit follows the committed log from its head at start, one JSON
// line per entry. It reads what was committed rather than what services
// record, so an entry rolled back with its change never reaches the SIEM.
// Each replica streams the whole log: point only one at a given sink.
func (a *App) streamAudit(ctx context.Context, w io.Writer) {
	cp, err := a.Store.AuditCheckpoint(ctx)
	if err != nil {
		a.Log.Error("audit: stream stopped", "err", err)
		return
	}
	after := cp.HeadSeq
	enc := json.NewEncoder(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			page, err := a.Store.WalkAudit(ctx, after, 500)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					a.Log.Warn("audit: stream", "err", err)
				}
				break
			}
			for _, e := range page {
				if err := enc.Encode(audit.ViewOf(e)); err != nil {
					a.Log.Warn("audit: stream write", "err", err)
				}
				after = e.Seq
			}
			if len(page) < 500 {
				break
			}
		}
	}
}

// auditAreas are the audit log's pages (console and account).
func (a *App) auditAreas() []server.Area {
	console := web.NewConsolePages(a.Accounts, a.Identity.Admin(), a.PATs, a.OAuth)
	return []server.Area{web.NewAuditPages(a.Accounts, console, a.Audit)}
}
