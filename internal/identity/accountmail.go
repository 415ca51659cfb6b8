package identity

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/email"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Account links sent by email.
const (
	// ResetLinkTTL: a password reset link works once, within 30 minutes.
	ResetLinkTTL = 30 * time.Minute
	// VerifyLinkTTL: an email verification link works once, within 7 days.
	VerifyLinkTTL = 7 * 24 * time.Hour
	// EmailChangeLinkTTL: a new-address confirmation works once, within 24 hours.
	EmailChangeLinkTTL = 24 * time.Hour
)

// ErrInvalidLink: an account link that is unknown, expired, already used,
// or for an address the account no longer has. Deliberately one error: the
// page says "this link is no longer valid" whatever the reason.
var ErrInvalidLink = errors.New("identity: invalid or expired link")

// Mailer queues a message inside the caller's transaction
// (email.Mailer implements it).
type Mailer interface {
	Send(ctx context.Context, tx store.Store, kind email.Kind, to string, data map[string]any) error
}

// AccountMail runs the account flows that go through email: verification
// of the address, password reset, change of address, and the security
// notices. Each message is queued in the same transaction as the change it
// is about, so a notice exists exactly when the change was committed.
//
// Reset policy: a password reset is a password change made by whoever
// reads the mailbox. Like ChangePassword it moves CredentialsChangedAt,
// which ends every browser session and retires every credential bound to
// the old password (personal access tokens and OAuth grants' tokens issued
// before it); API keys belong to apps, not to the person, and stay.
// Two-factor stays on: a reset link does not bypass the second factor.
type AccountMail struct {
	svc     *Service
	st      store.Store
	mail    Mailer
	queue   Queue
	baseURL string // the issuer, links are built under it
}

// NewAccountMail builds the flows and registers the reset-request handler
// on queue. baseURL is the public base URL (the issuer) under which the
// pages live.
func NewAccountMail(svc *Service, st store.Store, mail Mailer, queue Queue, baseURL string) *AccountMail {
	a := &AccountMail{svc: svc, st: st, mail: mail, queue: queue, baseURL: baseURL}
	queue.Handle(ResetRequestTopic, a.handleResetRequest)
	svc.mail = a
	return a
}

// EmailVerified reports whether the user proved they receive mail at their
// address (apps use it to refuse registering production apps otherwise).
func (s *Service) EmailVerified(ctx context.Context, userID string) (bool, error) {
	st, ok := s.st.(store.EmailVerification)
	if !ok {
		return false, errors.New("identity: store does not record email verification")
	}
	at, err := st.EmailVerifiedAt(ctx, userID)
	if err != nil {
		return false, err
	}
	return at != nil, nil
}

// MarkEmailVerified records the address as verified without a link: for
// accounts created by an operator, who vouches for the address.
func (a *AccountMail) MarkEmailVerified(ctx context.Context, userID string) error {
	now := a.svc.time()
	return a.st.SetEmailVerified(ctx, userID, &now)
}

// newLink returns a fresh secret for a link and the hash stored for it.
func (a *AccountMail) newLink(path string) (link, hash string, err error) {
	tok, err := a.svc.randomToken()
	if err != nil {
		return "", "", err
	}
	return a.baseURL + path + "?token=" + url.QueryEscape(tok), a.linkHash(tok), nil
}

// linkHash is the stored form of a link secret: a keyed hash, so a copy of
// the database yields no working link.
func (a *AccountMail) linkHash(token string) string {
	return a.svc.hasher.Hash("account-link:" + token)
}

// SendVerification mails a verification link for the user's current
// address, replacing earlier ones.
func (a *AccountMail) SendVerification(ctx context.Context, userID string) error {
	link, hash, err := a.newLink("/verify-email")
	if err != nil {
		return err
	}
	now := a.svc.time()
	return a.st.InTx(ctx, func(tx store.Store) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if _, err := tx.DeleteAccountTokens(ctx, u.ID, store.AccountTokenVerify); err != nil {
			return err
		}
		// The address is remembered with the token: a link sent to an
		// address the account no longer has proves nothing.
		if err := tx.CreateAccountToken(ctx, &store.AccountToken{Hash: hash, Purpose: store.AccountTokenVerify, UserID: u.ID,
			NewEmail: u.Email, CreatedAt: now, ExpiresAt: now.Add(VerifyLinkTTL)}); err != nil {
			return err
		}
		return a.mail.Send(ctx, tx, email.KindVerify, u.Email, map[string]any{"Link": link})
	})
}

// VerifyEmail consumes a verification link. ErrInvalidLink when it is not
// (or no longer) valid.
func (a *AccountMail) VerifyEmail(ctx context.Context, token string) error {
	now := a.svc.time()
	return a.st.InTx(ctx, func(tx store.Store) error {
		t, err := tx.ConsumeAccountToken(ctx, a.linkHash(token), store.AccountTokenVerify, now)
		if err != nil {
			return linkErr(err)
		}
		u, err := tx.UserByID(ctx, t.UserID)
		if err != nil {
			return linkErr(err)
		}
		if u.Email != t.NewEmail {
			return ErrInvalidLink
		}
		return tx.SetEmailVerified(ctx, u.ID, &now)
	})
}

// ResetRequestTopic is the outbox topic of password reset requests.
const ResetRequestTopic = "reset_request"

// Queue is the durable queue requests are deferred through
// (outbox.Outbox implements it).
type Queue interface {
	Enqueue(ctx context.Context, tx store.Store, topic, payload string) (string, error)
	Handle(topic string, h func(ctx context.Context, payload string) error)
}

// RequestPasswordReset asks for a reset link to be mailed to the account
// with this address. It never tells whether the address has an account:
// the request path only queues the (sealed) address, the same single
// insert whatever the address, so the answer and its timing are the same;
// the outbox worker then looks the account up and, for an active account,
// creates the link and queues the message (handleResetRequest).
func (a *AccountMail) RequestPasswordReset(ctx context.Context, address string) error {
	sealed, err := a.svc.box.Seal([]byte(address), resetRequestContext)
	if err != nil {
		return err
	}
	_, err = a.queue.Enqueue(ctx, a.st, ResetRequestTopic, sealed)
	return err
}

const resetRequestContext = "outbox:" + ResetRequestTopic

func (a *AccountMail) handleResetRequest(ctx context.Context, payload string) error {
	raw, err := a.svc.box.Open(payload, resetRequestContext)
	if err != nil {
		return fmt.Errorf("identity: reset request payload: %w", err)
	}
	return a.sendReset(ctx, string(raw))
}

// sendReset creates a reset link for the active account with this address
// and queues the message; nothing for an unknown or disabled account.
func (a *AccountMail) sendReset(ctx context.Context, address string) error {
	normalized, err := NormalizeEmail(address)
	if err != nil {
		return nil
	}
	link, hash, err := a.newLink("/reset-password")
	if err != nil {
		return err
	}
	now := a.svc.time()
	return a.st.InTx(ctx, func(tx store.Store) error {
		u, err := tx.UserByEmail(ctx, normalized)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return nil
		}
		if err := tx.CreateAccountToken(ctx, &store.AccountToken{Hash: hash, Purpose: store.AccountTokenReset, UserID: u.ID,
			NewEmail: u.Email, CreatedAt: now, ExpiresAt: now.Add(ResetLinkTTL)}); err != nil {
			return err
		}
		return a.mail.Send(ctx, tx, email.KindReset, u.Email, map[string]any{"Link": link, "Minutes": int(ResetLinkTTL / time.Minute)})
	})
}

// SendPasswordReset mails a reset link to a known user (the operator's
// `user send-reset`).
func (a *AccountMail) SendPasswordReset(ctx context.Context, userID string) error {
	u, err := a.st.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.Disabled {
		return errors.New("identity: the account is disabled")
	}
	return a.sendReset(ctx, u.Email)
}

// ResetPassword sets a new password through a reset link. The new password
// meets the same policy as at sign-up (an error leaves the link usable);
// the link is consumed, every other reset link of the user is voided, and
// the reset policy above applies. ErrInvalidLink when the link is not valid.
func (a *AccountMail) ResetPassword(ctx context.Context, token, password string) error {
	// Hashed first, outside the transaction: argon2 is slow and on SQLite
	// the transaction holds the only write connection.
	hash, err := a.svc.hash(ctx, password)
	if err != nil {
		return err
	}
	now := a.svc.time()
	err = a.st.InTx(ctx, func(tx store.Store) error {
		t, err := tx.ConsumeAccountToken(ctx, a.linkHash(token), store.AccountTokenReset, now)
		if err != nil {
			return linkErr(err)
		}
		u, err := tx.UserByID(ctx, t.UserID)
		if err != nil {
			return linkErr(err)
		}
		if u.Disabled || u.Email != t.NewEmail {
			return ErrInvalidLink
		}
		if err := a.svc.CheckNewPassword(password, u.Email, u.Name); err != nil {
			return err // rolls back: the link stays usable for a better password
		}
		if err := tx.UpdatePassword(ctx, u.ID, hash, true, now); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			return err
		}
		if _, err := tx.DeleteAccountTokens(ctx, u.ID, store.AccountTokenReset); err != nil {
			return err
		}
		// Following the link proved the mailbox too.
		if err := tx.SetEmailVerified(ctx, u.ID, &now); err != nil {
			return err
		}
		a.svc.log.Info("password reset by email link; sessions ended", "user_id", u.ID)
		if err := a.svc.cfg.Audit.Record(ctx, tx, userEntry(audit.PasswordReset, u.ID, false, map[string]any{"sessions_ended": true, "by": "email_link"})); err != nil {
			return err
		}
		return a.notify(ctx, tx, u, noticeFacts{Kind: NoticePasswordChanged, By: "email_link"})
	})
	if err == nil {
		a.counted(NoticePasswordChanged)
	}
	return err
}

// RequestEmailChange asks for the user's address to become newAddress,
// after checking the current password: a confirmation link goes to the new
// address and a notice to the old one. ErrEmailTaken when another account
// has the new address.
func (a *AccountMail) RequestEmailChange(ctx context.Context, userID, password, newAddress, ip string) error {
	u, err := a.svc.reauthenticate(ctx, userID, password, ip)
	if err != nil {
		return err
	}
	normalized, err := NormalizeEmail(newAddress)
	if err != nil {
		return err
	}
	if normalized == u.Email {
		return nil
	}
	if _, err := a.st.UserByEmail(ctx, normalized); err == nil {
		return ErrEmailTaken
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	link, hash, err := a.newLink("/confirm-email")
	if err != nil {
		return err
	}
	now := a.svc.time()
	err = a.st.InTx(ctx, func(tx store.Store) error {
		if _, err := tx.DeleteAccountTokens(ctx, u.ID, store.AccountTokenEmailChange); err != nil {
			return err
		}
		if err := tx.CreateAccountToken(ctx, &store.AccountToken{Hash: hash, Purpose: store.AccountTokenEmailChange, UserID: u.ID,
			NewEmail: normalized, CreatedAt: now, ExpiresAt: now.Add(EmailChangeLinkTTL)}); err != nil {
			return err
		}
		if err := a.mail.Send(ctx, tx, email.KindEmailChangeConfirm, normalized, map[string]any{"Link": link, "NewEmail": normalized}); err != nil {
			return err
		}
		return a.notify(ctx, tx, u, noticeFacts{Kind: NoticeEmailChangeRequested, From: u.Email, To: normalized})
	})
	if err == nil {
		a.counted(NoticeEmailChangeRequested)
	}
	return err
}

// ConfirmEmailChange consumes a confirmation link and changes the address,
// telling the old address. ErrInvalidLink when the link is not valid,
// ErrEmailTaken when another account took the address meanwhile.
func (a *AccountMail) ConfirmEmailChange(ctx context.Context, token string) error {
	now := a.svc.time()
	err := a.st.InTx(ctx, func(tx store.Store) error {
		t, err := tx.ConsumeAccountToken(ctx, a.linkHash(token), store.AccountTokenEmailChange, now)
		if err != nil {
			return linkErr(err)
		}
		u, err := tx.UserByID(ctx, t.UserID)
		if err != nil {
			return linkErr(err)
		}
		if err := tx.ChangeEmail(ctx, u.ID, t.NewEmail, now); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return ErrEmailTaken
			}
			return err
		}
		a.svc.log.Info("email address changed by confirmation link", "user_id", u.ID)
		if err := a.svc.cfg.Audit.Record(ctx, tx, userEntry(audit.EmailChanged, u.ID, false, map[string]any{"from": u.Email, "to": t.NewEmail})); err != nil {
			return err
		}
		// To the old address: the one that may belong to the owner if the
		// change was not theirs.
		return a.notify(ctx, tx, u, noticeFacts{Kind: NoticeEmailChanged, From: u.Email, To: t.NewEmail})
	})
	if err == nil {
		a.counted(NoticeEmailChanged)
	}
	return err
}

// Notify queues the security notice of a change the caller already made
// to the user's account (NoticePasswordChanged, NoticeSecondFactorDisabled)
// and records it, in one transaction of its own.
func (a *AccountMail) Notify(ctx context.Context, userID string, kind NoticeKind) error {
	return a.notifyAfter(ctx, userID, noticeFacts{Kind: kind})
}

// notifyAdminChange queues the notice of a change an administrator made
// (after it was made, as Notify); a failure is logged, the change stands.
func (a *AccountMail) notifyAdminChange(ctx context.Context, userID string, kind NoticeKind) {
	if err := a.notifyAfter(ctx, userID, noticeFacts{Kind: kind, By: "administrator"}); err != nil {
		a.svc.log.Error("security notice of an administrator's change", "user_id", userID, "kind", kind, "err", err)
	}
}

func (a *AccountMail) notifyAfter(ctx context.Context, userID string, f noticeFacts) error {
	err := a.st.InTx(ctx, func(tx store.Store) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		return a.notify(ctx, tx, u, f)
	})
	if err == nil {
		a.counted(f.Kind)
	}
	return err
}

// PATCreated queues the notice of a new personal access token, in the
// transaction that created it (pat.Config.Created). The hook is that
// transaction's last step, so the alert is counted here.
func (a *AccountMail) PATCreated(ctx context.Context, tx store.Store, p *store.PAT) error {
	u, err := tx.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	if err := a.notify(ctx, tx, u, noticeFacts{Kind: NoticePATCreated, PATID: p.ID, Description: p.Description, Scopes: p.Scopes}); err != nil {
		return err
	}
	a.counted(NoticePATCreated)
	return nil
}

// RememberDevice records the device a sign-in came from and, when notify
// is set and the user never signed in from it before, queues a notice.
// device identifies it (for example the browser family and the client's
// network); describe is what the notice says about it. An account's first
// device is no news, and sign-up passes notify=false.
func (a *AccountMail) RememberDevice(ctx context.Context, userID, device, describe string, notify bool) error {
	now := a.svc.time()
	var noticed bool
	err := a.st.InTx(ctx, func(tx store.Store) error {
		noticed = false
		isNew, only, err := tx.SeeDevice(ctx, userID, a.svc.hasher.Hash("device:"+device), now)
		if err != nil || !isNew || only || !notify {
			return err // an account's first device is no news
		}
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		noticed = true
		return a.notify(ctx, tx, u, noticeFacts{Kind: NoticeNewSignInLocation, Device: describe})
	})
	if err == nil && noticed {
		a.counted(NoticeNewSignInLocation)
	}
	return err
}

func linkErr(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyUsed) {
		return ErrInvalidLink
	}
	return fmt.Errorf("identity: account link: %w", err)
}
