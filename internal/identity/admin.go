package identity

import (
	"context"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Admin is what an administrator may do to another user's account. The
// console, the admin API and the CLI all call these, so each action has one
// rule, wherever it is asked from. The caller has already decided that the
// actor is allowed (an administrator, or the operator at the CLI); actor is
// recorded in the log.
type Admin struct{ s *Service }

// Admin returns the administrator operations of the service.
func (s *Service) Admin() *Admin { return &Admin{s: s} }

// Find resolves a user by id or, when ref contains "@", by email.
// store.ErrNotFound when there is none.
func (a *Admin) Find(ctx context.Context, ref string) (*store.User, error) {
	if strings.Contains(ref, "@") {
		return a.s.UserByEmail(ctx, ref)
	}
	return a.s.st.UserByID(ctx, ref)
}

// Sessions lists the user's signed-in browsers.
func (a *Admin) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	return a.s.ListSessions(ctx, userID)
}

// Disable stops the account: sign-in is refused and every session ends.
// Disabling moves CredentialsChangedAt, so every credential issued before
// (tokens, PATs, API keys of the user's apps) is dead and stays dead after a
// later Enable.
func (a *Admin) Disable(ctx context.Context, actor, userID string) (*store.User, error) {
	now := a.s.time()
	if err := a.s.st.SetDisabled(ctx, userID, true, now); err != nil {
		return nil, err
	}
	if err := a.s.st.DeleteUserSessions(ctx, userID, ""); err != nil {
		return nil, err
	}
	return a.done(ctx, actor, userID, "user disabled", "admin.user_disabled")
}

// Enable lets the user sign in again (with new credentials only).
func (a *Admin) Enable(ctx context.Context, actor, userID string) (*store.User, error) {
	if err := a.s.st.SetDisabled(ctx, userID, false, a.s.time()); err != nil {
		return nil, err
	}
	return a.done(ctx, actor, userID, "user enabled", "admin.user_enabled")
}

// EndSessions signs the user out of every browser. Tokens and PATs are not
// sessions and keep working; Disable or a password change retires those.
func (a *Admin) EndSessions(ctx context.Context, actor, userID string) (*store.User, error) {
	if err := a.s.st.LockUser(ctx, userID); err != nil {
		return nil, err
	}
	if err := a.s.st.DeleteUserSessions(ctx, userID, ""); err != nil {
		return nil, err
	}
	return a.done(ctx, actor, userID, "user sessions ended", "admin.sessions_ended")
}

// ResetSecondFactor removes the user's authenticator seed and recovery
// codes (the user lost the device): the next sign-in needs the password
// only, and the user can enrol again.
func (a *Admin) ResetSecondFactor(ctx context.Context, actor, userID string) (*store.User, error) {
	now := a.s.time()
	if err := a.s.st.SetTOTP(ctx, userID, "", false, now); err != nil {
		return nil, err
	}
	if err := a.s.st.ReplaceRecoveryCodes(ctx, userID, nil, now); err != nil {
		return nil, err
	}
	u, err := a.done(ctx, actor, userID, "user second factor reset", "admin.second_factor_reset")
	if err == nil && a.s.mail != nil {
		// Whoever asked the help desk for this may not be the owner: the
		// owner hears of it, as when they turn it off themselves.
		a.s.mail.notifyAdminChange(ctx, userID, NoticeSecondFactorDisabled)
	}
	return u, err
}

// ForcePasswordChange requires the user to choose a new password before
// doing anything else, and signs them out so the next sign-in meets the
// requirement at once. A real password change clears the requirement.
func (a *Admin) ForcePasswordChange(ctx context.Context, actor, userID string) (*store.User, error) {
	if err := a.s.st.SetMustChangePassword(ctx, userID, true, a.s.time()); err != nil {
		return nil, err
	}
	if err := a.s.st.DeleteUserSessions(ctx, userID, ""); err != nil {
		return nil, err
	}
	return a.done(ctx, actor, userID, "user must change password", "admin.password_change_forced")
}

// done logs and audits an administrator's action, after it was made (the
// store writes above are single statements, not one transaction). actor is
// "admin:<user id>" from the admin API and console, "cli" from the command
// line (the operator at the shell: the system actor).
func (a *Admin) done(ctx context.Context, actor, userID, msg, typ string) (*store.User, error) {
	a.s.log.Info(msg, "user_id", userID, "actor", actor)
	kind, id := store.ActorAdmin, strings.TrimPrefix(actor, "admin:")
	if actor == "cli" {
		kind, id = store.ActorSystem, ""
	}
	a.s.audit(ctx, audit.Entry{Type: typ, ActorKind: kind, ActorID: id, Subject: userID})
	return a.s.st.UserByID(ctx, userID)
}
