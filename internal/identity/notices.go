package identity

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/email"
	"github.com/gatehouse/gatehouse/internal/store"
)

// NoticeKind names what a security notice is about. It is the "kind" in the
// details of the notice's audit entry (audit.SecurityAlert) and the label of
// gatehouse_security_alerts_total.
type NoticeKind string

// The security notices.
const (
	NoticePATCreated           NoticeKind = "pat_created"
	NoticeSecondFactorDisabled NoticeKind = "second_factor_disabled"
	NoticePasswordChanged      NoticeKind = "password_changed"
	NoticeEmailChangeRequested NoticeKind = "email_change_requested"
	NoticeEmailChanged         NoticeKind = "email_changed"
	NoticeNewSignInLocation    NoticeKind = "new_sign_in_location"
)

// NoticeKinds lists every kind, in the order above.
var NoticeKinds = []NoticeKind{
	NoticePATCreated, NoticeSecondFactorDisabled, NoticePasswordChanged,
	NoticeEmailChangeRequested, NoticeEmailChanged, NoticeNewSignInLocation,
}

// Account page's notices: the last NoticesShown within NoticesWindow.
const (
	NoticesWindow = 30 * 24 * time.Hour
	NoticesShown  = 10
)

// noticeFacts are a notice's details, as the audit entry stores them (JSON)
// and as both the email and the account page word them.
type noticeFacts struct {
	Kind        NoticeKind `json:"kind"`
	PATID       string     `json:"pat_id,omitempty"`
	Description string     `json:"description,omitempty"`
	Scopes      []string   `json:"scopes,omitempty"`
	From        string     `json:"from,omitempty"`
	To          string     `json:"to,omitempty"`
	Device      string     `json:"device,omitempty"`
	By          string     `json:"by,omitempty"`
}

// words are the notice's sentence and its optional detail.
func (f noticeFacts) words() (event, detail string) {
	switch f.Kind {
	case NoticePATCreated:
		return "A personal access token (\"" + f.Description + "\") was created for your account.",
			"Scopes: " + strings.Join(f.Scopes, " ") + "."
	case NoticeSecondFactorDisabled:
		if f.By == "administrator" {
			return "Two-factor authentication was turned off for your account by an administrator.",
				"You can sign in with your password alone until you set it up again."
		}
		return "Two-factor authentication was turned off for your account.", ""
	case NoticePasswordChanged:
		if f.By == "email_link" {
			return "The password of your account was reset.", ""
		}
		return "The password of your account was changed.", ""
	case NoticeEmailChangeRequested:
		return "A change of your account's email address to " + f.To + " was requested.",
			"The address changes only once the link sent there is opened."
	case NoticeEmailChanged:
		return "The email address of your account was changed to " + f.To + ".", ""
	case NoticeNewSignInLocation:
		return "New sign-in to your account.", f.Device
	}
	return "Security notice (" + string(f.Kind) + ").", ""
}

func (f noticeFacts) details() map[string]any {
	b, _ := json.Marshal(f) // plain strings: cannot fail
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// notify queues the security notice f to the user (email) and records it
// (audit.SecurityAlert), both in tx: the user's email and account page and
// the operator's audit log and stream tell the same story. The caller
// counts it (counted) once tx committed.
func (a *AccountMail) notify(ctx context.Context, tx store.Store, u *store.User, f noticeFacts) error {
	event, detail := f.words()
	when := a.svc.time().Format("2006-01-02 15:04 UTC")
	if detail != "" {
		detail += " "
	}
	if err := a.mail.Send(ctx, tx, email.KindSecurity, u.Email, map[string]any{"Event": event, "Detail": detail + "Time: " + when + "."}); err != nil {
		return err
	}
	// The server raises the alert (actor: system) about the account
	// (subject): the account page and /account/activity read by subject.
	// The request's address and user agent are the entry's own fields.
	return a.svc.cfg.Audit.Record(ctx, tx, audit.Entry{Type: audit.SecurityAlert, ActorKind: store.ActorSystem, Subject: u.ID, Details: f.details()})
}

// counted counts a committed notice on gatehouse_security_alerts_total.
func (a *AccountMail) counted(k NoticeKind) { a.svc.cfg.Metrics.securityAlert(k) }

// Notice is a security notice as the account page shows it.
type Notice struct {
	At        time.Time
	Kind      NoticeKind
	Event     string // the sentence the email opened with
	Detail    string
	Address   string // the client address of the request that caused it
	UserAgent string // its user agent
}

// Notices returns the user's security notices of the last NoticesWindow,
// newest first, at most NoticesShown. They are the audit log's
// audit.SecurityAlert entries about the user, so they are kept as long as
// the audit log keeps entries (audit_retention).
func (a *AccountMail) Notices(ctx context.Context, userID string) ([]Notice, error) {
	list, err := a.st.ListAudit(ctx, store.AuditFilter{
		Type: audit.SecurityAlert, Subject: userID, Since: a.svc.time().Add(-NoticesWindow), Limit: NoticesShown,
	})
	if err != nil {
		return nil, err
	}
	out := make([]Notice, 0, len(list))
	for _, e := range list {
		var f noticeFacts
		if err := json.Unmarshal([]byte(e.Details), &f); err != nil || f.Kind == "" {
			continue // not one this version wrote
		}
		n := Notice{At: e.At, Kind: f.Kind, Address: e.ClientAddr, UserAgent: e.UserAgent}
		n.Event, n.Detail = f.words()
		out = append(out, n)
	}
	return out, nil
}
