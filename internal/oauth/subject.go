package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Subject types (OpenID Connect Core §8). A client registers one;
// "" means public.
const (
	// SubjectPublic: "This provides the same sub (subject) value to all
	// Clients." The sub is the user's id.
	SubjectPublic = "public"
	// SubjectPairwise: "This provides a different sub value to each Client,
	// so as not to enable Clients to correlate the End-User's activities
	// without permission."
	SubjectPairwise = "pairwise"
)

// SubjectTypes lists the subject types a client may register.
func SubjectTypes() []string { return []string{SubjectPublic, SubjectPairwise} }

// SectorOf returns the sector identifier of a client's pairwise subjects.
// OpenID Connect Core §8.1: "If the Client has not provided a value for
// sector_identifier_uri in Dynamic Client Registration, the Sector Identifier
// used for pairwise identifier calculation is the host component of the
// registered redirect_uri. If there are multiple hostnames in the registered
// redirect_uris, the Client MUST register a sector_identifier_uri."
// Gatehouse takes no sector_identifier_uri: it refuses pairwise for a client
// whose redirect URIs name more than one host. A native app's private-use
// URI scheme (RFC 8252 §7.1: "a reverse domain name") has no host, and the
// scheme stands in for it. The host is compared without its port and in
// lower case, so http://127.0.0.1:port loopback redirects are one sector.
func SectorOf(redirectURIs []string) (string, error) {
	if len(redirectURIs) == 0 {
		return "", errors.New("a pairwise subject needs a redirect URI: its host is the sector the subject is computed for")
	}
	sector := ""
	for _, raw := range redirectURIs {
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("redirect URI %q does not parse", raw)
		}
		h := strings.ToLower(u.Hostname())
		if h == "" {
			h = strings.ToLower(u.Scheme)
		}
		if h == "" {
			return "", fmt.Errorf("redirect URI %q has no host to take the sector from", raw)
		}
		if sector != "" && h != sector {
			return "", fmt.Errorf("a pairwise subject needs every redirect URI on one host (%q and %q differ): register the hosts as separate apps, or use the public subject type", sector, h)
		}
		sector = h
	}
	return sector, nil
}

// pairwiseSub is the pairwise subject of userID in sector: base64url of
// HMAC-SHA256(key, sector "|" userID). OpenID Connect Core §8.1: the value
// "MUST NOT be reversible by any party other than the OpenID Provider"; an
// HMAC under a key derived from the master key is not reversible by anyone,
// the provider included (which is why id_token_hint is checked forwards,
// see hintMatches). Neither a sector host nor a user id contains "|", so
// distinct (sector, user) pairs never share an input.
func pairwiseSub(key []byte, sector, userID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sector + "|" + userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// subjectFor is the sub that client c is shown for userID: the user's id
// for a public client, the pairwise value of the client's sector otherwise.
// It is used for everything naming the user to that client — the ID token,
// UserInfo, the JWT access token and introspection — so the client sees one
// sub everywhere.
func (s *Service) subjectFor(c *store.Client, userID string) (string, error) {
	if c == nil || c.SubjectType != SubjectPairwise || userID == "" {
		return userID, nil
	}
	if len(s.pairwiseKey) == 0 {
		// Never fall back to the public id: the client was promised it
		// would not see it.
		return "", errors.New("oauth: a pairwise client, but no pairwise key is configured")
	}
	sector, err := SectorOf(c.RedirectURIs)
	if err != nil {
		return "", fmt.Errorf("oauth: client %s: %w", c.ID, err)
	}
	return pairwiseSub(s.pairwiseKey, sector, userID), nil
}

// subjectForClient is subjectFor by client id.
func (s *Service) subjectForClient(ctx context.Context, clientID, userID string) (string, error) {
	if userID == "" || clientID == "" {
		return userID, nil
	}
	e, _, err := s.loadClient(ctx, clientID, false)
	if err != nil {
		return "", err
	}
	return s.subjectFor(e.client, userID)
}

// hintMatches reports whether an id_token_hint's sub, issued to client c,
// names userID. A pairwise sub cannot be inverted (it is an HMAC), so the
// check goes forwards: compute the signed-in user's sub for c and compare.
func (s *Service) hintMatches(c *store.Client, hintSub, userID string) bool {
	sub, err := s.subjectFor(c, userID)
	return err == nil && hmac.Equal([]byte(sub), []byte(hintSub))
}

// CheckClientTokenOptions checks what of a client's token options this
// server can honour: JWT access tokens need the signing keys, pairwise
// subjects the pairwise key. ValidateClient has checked the values.
func (s *Service) CheckClientTokenOptions(c *store.Client) error {
	var errs []error
	if c.AccessTokenFormat == FormatJWT && s.jwtStrategy == nil {
		errs = append(errs, errors.New("JWT access tokens are not available on this server (no signing keys)"))
	}
	if c.SubjectType == SubjectPairwise && len(s.pairwiseKey) == 0 {
		errs = append(errs, errors.New("pairwise subjects are not available on this server (no pairwise key)"))
	}
	return errors.Join(errs...)
}

// SubjectTypesSupported lists the subject types this server issues
// (Discovery subject_types_supported).
func (s *Service) SubjectTypesSupported() []string {
	if len(s.pairwiseKey) == 0 {
		return []string{SubjectPublic}
	}
	return SubjectTypes()
}
