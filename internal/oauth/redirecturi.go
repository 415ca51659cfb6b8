package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxRedirectURILength bounds a registered or requested redirect URI.
const MaxRedirectURILength = 2000

// ValidateRedirectURI checks a redirect URI at registration time.
//
// Rules, each from the RFC it implements:
//   - absolute, no fragment — RFC 6749 §3.1.2: "The redirection endpoint URI
//     MUST be an absolute URI as defined by [RFC3986] Section 4.3. ... The
//     endpoint URI MUST NOT include a fragment component."
//   - https — RFC 9700 §2.6 / RFC 6749 §3.1.2.1: "the authorization server
//     SHOULD require the use of TLS" for redirect URIs.
//   - http only for the loopback IP literals — RFC 8252 §7.3: "Loopback
//     redirect URIs use the "http" scheme and are constructed with the
//     loopback IP literal"; and §8.3: "While redirect URIs using localhost
//     (i.e., "http://localhost:{port}/{path}") function similarly to loopback
//     IP redirects ..., the use of localhost is NOT RECOMMENDED." We refuse it.
//   - no wildcards and no user info — RFC 9700 §4.1.3: "authorization servers
//     MUST utilize exact string matching", so a pattern can never be
//     registered.
func ValidateRedirectURI(raw string) error {
	if raw == "" {
		return errors.New("redirect URI is empty")
	}
	if len(raw) > MaxRedirectURILength {
		return fmt.Errorf("redirect URI is longer than %d characters", MaxRedirectURILength)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= 0x20 || c >= 0x7f {
			return errors.New("redirect URI contains whitespace, control or non-ASCII characters")
		}
	}
	if strings.Contains(raw, "#") {
		return errors.New("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")
	}
	if strings.Contains(raw, "*") {
		return errors.New("redirect URI must not contain wildcards (RFC 9700 §4.1.3)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI does not parse: %v", err)
	}
	if !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return errors.New("redirect URI must be an absolute URI with a host (RFC 6749 §3.1.2)")
	}
	if u.User != nil {
		return errors.New("redirect URI must not contain user information")
	}
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		return errors.New("redirect URI must start with https:// (or http:// on 127.0.0.1 / [::1])")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("redirect URI must have a host")
	}
	switch u.Scheme {
	case "https":
		if p := u.Port(); u.Host != host && p == "" {
			return errors.New("redirect URI has an empty port")
		}
		return nil
	case "http":
		if !isLoopbackLiteral(u.Host) {
			if strings.EqualFold(host, "localhost") {
				return errors.New(`http redirect URIs must use the loopback IP literal 127.0.0.1 or [::1], not "localhost" (RFC 8252 §8.3)`)
			}
			return errors.New("http redirect URIs are only allowed for the loopback IP literals 127.0.0.1 and [::1] (RFC 8252 §7.3); use https")
		}
		return nil
	default:
		return fmt.Errorf("redirect URI scheme %q is not allowed; use https (or http on 127.0.0.1 / [::1])", u.Scheme)
	}
}

// isLoopbackLiteral reports whether hostport (u.Host) is exactly 127.0.0.1 or
// [::1], with or without a numeric port.
func isLoopbackLiteral(hostport string) bool {
	_, port, ok := splitLoopbackHost(hostport)
	return ok && (port == "" || validPort(port))
}

// splitLoopbackHost splits "127.0.0.1:8080" into ("127.0.0.1", "8080"). A
// colon with an empty port is refused.
func splitLoopbackHost(hostport string) (host, port string, ok bool) {
	for _, lit := range [...]string{"127.0.0.1", "[::1]"} {
		if hostport == lit {
			return lit, "", true
		}
		if strings.HasPrefix(hostport, lit+":") && len(hostport) > len(lit)+1 {
			return lit, hostport[len(lit)+1:], true
		}
	}
	return "", "", false
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// loopbackWithoutPort returns raw with the port removed when raw is an http
// URI on a loopback IP literal, and ok=false otherwise. The rest of the string
// is kept byte for byte, so matching stays exact apart from the port.
func loopbackWithoutPort(raw string) (string, bool) {
	const scheme = "http://"
	if !strings.HasPrefix(raw, scheme) {
		return "", false
	}
	rest := raw[len(scheme):]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, port, ok := splitLoopbackHost(rest[:end])
	if !ok || (port != "" && !validPort(port)) {
		return "", false
	}
	return scheme + host + rest[end:], true
}

// MatchRedirectURI returns the registered URI that requested matches, using
// exact string comparison — RFC 9700 §4.1.3: "When comparing client redirect
// URIs against pre-registered URIs, authorization servers MUST utilize exact
// string matching" — with the one exception RFC 8252 §7.3 requires: "The
// authorization server MUST allow any port to be specified at the time of the
// request for loopback IP redirect URIs, to accommodate clients that obtain
// an available ephemeral port from the operating system at the time of the
// request." The requested URI (with its port) is what the response goes to.
func MatchRedirectURI(registered []string, requested string) bool {
	if requested == "" || len(requested) > MaxRedirectURILength {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	reqNoPort, ok := loopbackWithoutPort(requested)
	if !ok {
		return false
	}
	for _, r := range registered {
		if regNoPort, ok := loopbackWithoutPort(r); ok && regNoPort == reqNoPort {
			return true
		}
	}
	return false
}

// ResolveRedirectURI picks the redirect URI of an authorization request.
// When the request names one it must match a registered one. When it names
// none, RFC 6749 §3.1.2.3: "If multiple redirection URIs have been
// registered, if only part of the redirection URI has been registered, or if
// no redirection URI has been registered, the client MUST include a
// redirection URI with the authorization request" — so the registered URI is
// used only when it is the one and only.
func ResolveRedirectURI(registered []string, requested string) (string, error) {
	if requested == "" {
		if len(registered) == 1 {
			return registered[0], nil
		}
		return "", errors.New("redirect_uri is required: the client has more than one registered redirect URI")
	}
	if !MatchRedirectURI(registered, requested) {
		return "", errors.New("redirect_uri does not match any URI registered for this client")
	}
	// A loopback URI matched with another port must still be well formed.
	if _, err := url.Parse(requested); err != nil || strings.Contains(requested, "#") {
		return "", errors.New("redirect_uri is malformed")
	}
	return requested, nil
}
