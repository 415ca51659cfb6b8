package authn

import (
	"errors"
	"time"
)

// This file holds the two rules every credential obeys, whatever its kind:
//
//  1. A credential never mints a longer-lived credential. Creating a personal
//     access token or an API key needs the account owner in person (InPerson);
//     a bearer credential of any kind — OAuth access token, PAT, API key, an
//     administrator's token — is refused, because whatever it minted would
//     outlive its own revocation, its app's revocation and the owner's
//     password change. Listing and revoking stay open to bearer credentials
//     with the right scope: revoking only shortens a credential's life.
//
//  2. A credential acting for a user dies with the user's credentials
//     (ActsForUser): it is dead while the user is disabled, and for good once
//     it is older than the user's CredentialsChangedAt, which disabling the
//     account and changing the password move forward. Re-enabling the account
//     revives nothing.

// ErrNotInPerson: the request must come from the account owner in person.
var ErrNotInPerson = errors.New("authn: this needs the account owner in person: the password (and second factor), or a signed-in browser session")

// InPerson returns nil when p is the account owner in person: password
// authentication (HTTP Basic email:password, with the OTP-Token header when
// two-factor is on — authn refuses the password without it) or a signed-in
// browser session on a CSRF-checked form. Any bearer credential gets
// ErrNotInPerson. Every path that creates a PAT or an API key for a user asks
// this one function.
func InPerson(p *Principal) error {
	if p == nil || p.UserID == "" {
		return ErrNotInPerson
	}
	switch p.Method {
	case MethodPassword, MethodSession:
		return nil
	}
	return ErrNotInPerson
}

// ErrOwnerChanged: the credential acts for a user who is disabled, or whose
// credentials changed (password change, disable) after it was created.
var ErrOwnerChanged = errors.New("authn: the account was disabled or its password changed after the credential was created")

// ActsForUser is the one rule that decides whether a credential created at
// created, acting for a user in the given state, may still act for them. It
// is used by the access-token (and refresh-token), PAT and API-key validators
// alike, so no kind of credential outlives what another would not.
//
// A credential created in the same millisecond as the change survives (the
// store keeps milliseconds; a credential issued by the change itself, such
// as the session of a password change, must not die of it).
func ActsForUser(userDisabled bool, credentialsChangedAt, created time.Time) error {
	if userDisabled || created.Before(credentialsChangedAt) {
		return ErrOwnerChanged
	}
	return nil
}
