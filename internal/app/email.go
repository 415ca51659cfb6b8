package app

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/email"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/outbox"
)

// emailServices are the durable outbox and the mailer that queues through
// it (issue 14: outgoing email).
type emailServices struct {
	Outbox *outbox.Outbox
	Mailer *email.Mailer
	// AccountMail runs verification, reset and address-change links and
	// the security notices.
	AccountMail *identity.AccountMail
}

// buildEmail wires outgoing email: SMTP when smtp_host is set, otherwise
// .eml files in email_dir (development needs no mail server).
func (a *App) buildEmail() error {
	var err error
	a.Outbox, err = outbox.New(a.Store, a.Now, a.Rand, a.Log, a.Registry, outbox.Options{})
	if err != nil {
		return err
	}
	c := a.Config.Email
	var sender email.Sender = email.FileSender{Dir: c.Dir, Log: a.Log}
	if c.SMTPHost != "" {
		sender = email.SMTPSender{Host: c.SMTPHost, Port: c.SMTPPort, TLS: c.SMTPTLS, Username: c.SMTPUsername, Password: c.SMTPPassword}
	}
	a.Mailer = email.NewMailer(a.Box, a.Outbox, sender, c.From,
		email.Brand{SiteName: a.Config.SiteName, SupportContact: a.Config.SupportContact, AccentColor: a.Config.AccentColor},
		a.Now, a.Rand, a.Log)
	return nil
}

// buildAccountMail builds the email-driven account flows once the identity
// service exists; links are built under the issuer.
func (a *App) buildAccountMail() *identity.AccountMail {
	a.AccountMail = identity.NewAccountMail(a.Identity, a.Store, a.Mailer, a.Outbox, a.Config.Issuer)
	return a.AccountMail
}

// runOutbox delivers queued messages until ctx ends (serve only), and
// hourly forgets finished messages (kept a week for inspection) and
// expired account links, and the webhook delivery log past its retention.
func (a *App) runOutbox(ctx context.Context) {
	go a.Outbox.Run(ctx)
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				now := a.Now()
				if _, err := a.Store.DeleteFinishedOutbox(ctx, now.Add(-7*24*time.Hour)); err != nil && ctx.Err() == nil {
					a.Log.Warn("housekeeping: outbox", "err", err)
				}
				if _, err := a.Store.DeleteExpiredAccountTokens(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
					a.Log.Warn("housekeeping: account links", "err", err)
				}
				a.pruneWebhooks(ctx)
			}
		}
	}()
}
