// Package clientaddr decides which address a request comes from. It is the
// one place that reads proxy headers: sign-in and second-factor throttling,
// sign-up limits, API-key address allow-lists, the sessions list, the leaked-
// credential limiter and the access log all see the address it resolves.
//
// Without trusted proxies the client is the TCP peer, and forwarding headers
// are ignored: any client can write them. With trusted_proxies set, a request
// whose peer is one of them is attributed to the right-most address in the
// forwarding header that is not itself a trusted proxy. Reading from the right
// matters: each proxy appends the address it saw, so everything left of the
// last trusted hop was written by the client and may be forged (RFC 7239 §8.3:
// "the information in the header fields can be forged, and the recipient
// should not blindly trust it").
package clientaddr

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Header names the forwarding header a Resolver reads.
const (
	HeaderXForwardedFor = "X-Forwarded-For" // de facto standard; nginx, Caddy, Traefik, Envoy
	HeaderForwarded     = "Forwarded"       // RFC 7239
)

// Resolver resolves client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// New builds a resolver that trusts the given proxies (CIDRs or single
// addresses) and reads header (HeaderXForwardedFor or HeaderForwarded) from
// them. Only one header is read, the one the operator's proxy writes: a proxy
// that maintains X-Forwarded-For passes a client's own Forwarded header
// through untouched, so reading both would let the client choose.
func New(trusted []string, header string) (*Resolver, error) {
	r := &Resolver{header: http.CanonicalHeaderKey(header)}
	if header == "" {
		r.header = HeaderXForwardedFor
	}
	if r.header != HeaderXForwardedFor && r.header != HeaderForwarded {
		return nil, fmt.Errorf("forwarded header %q: must be %s or %s", header, HeaderXForwardedFor, HeaderForwarded)
	}
	for _, s := range trusted {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// ParsePrefix reads a CIDR, or a single address as a /32 or /128.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("trusted proxy %q: not a CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("trusted proxy %q: not an address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of req and the TCP peer it came through.
// The peer is invalid only when RemoteAddr is not an address (never for a
// request from net/http's server).
func (r *Resolver) Resolve(req *http.Request) (client, peer netip.Addr) {
	peer = parseHost(req.RemoteAddr)
	if r == nil || len(r.trusted) == 0 || !peer.IsValid() || !r.isTrusted(peer) {
		return peer, peer
	}
	hops := r.hops(req.Header)
	// Walk from the right: the peer (trusted) appended the last hop, and each
	// trusted hop vouches for the one to its left.
	client = peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := hops[i]
		if !a.IsValid() {
			// A trusted proxy recorded something that is not an address
			// (e.g. "unknown" or an obfuscated identifier, RFC 7239 §6): we
			// cannot see past it, so the last hop we could read stands.
			return client, peer
		}
		client = a
		if !r.isTrusted(a) {
			return client, peer
		}
	}
	return client, peer
}

// hops lists the addresses of the forwarding header, left (client side) to
// right (nearest proxy), across repeated header lines. Entries that are not
// addresses are kept as invalid Addrs so the walk stops there.
func (r *Resolver) hops(h http.Header) []netip.Addr {
	var out []netip.Addr
	for _, line := range h.Values(r.header) {
		for _, elem := range strings.Split(line, ",") {
			elem = strings.TrimSpace(elem)
			if elem == "" {
				continue
			}
			if r.header == HeaderForwarded {
				elem = forwardedFor(elem)
			}
			out = append(out, parseHost(elem))
			if len(out) > 64 {
				// A longer chain is hostile; the right-most hops are the
				// ones that matter, but refusing to read on bounds the work.
				return out[len(out)-64:]
			}
		}
	}
	return out
}

// forwardedFor returns the for= value of one Forwarded element
// (RFC 7239 §4: forwarded-pair = token "=" value, pairs separated by ";"),
// unquoted; "" when the element has none.
func forwardedFor(elem string) string {
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		return strings.Trim(strings.TrimSpace(v), `"`)
	}
	return ""
}

// parseHost reads "addr", "addr:port", "[v6]" or "[v6]:port"; zone-less.
func parseHost(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

type ctxKey struct{}

// Middleware resolves the client address once per request and rewrites
// r.RemoteAddr to it (keeping the peer's port), so every reader of
// RemoteAddr — throttles, allow-lists, sessions, the leak limiter — sees the
// same answer. The TCP peer stays available through Peer. It must wrap the
// whole handler chain (it passes a copy of the request downstream).
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		client, peer := r.Resolve(req)
		if client.IsValid() && client != peer {
			var port uint16
			if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
				port = ap.Port()
			}
			req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, peer))
			req.RemoteAddr = netip.AddrPortFrom(client, port).String()
		}
		next.ServeHTTP(w, req)
	})
}

// Peer returns the TCP peer of a request whose client address the middleware
// replaced (a trusted proxy), and false when the request came directly.
func Peer(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(ctxKey{}).(netip.Addr)
	return a, ok
}

// Of returns the client address of a request that passed the middleware
// (the invalid address for a nil request or an unparsable RemoteAddr). Every
// reader of a request's address calls this rather than parsing RemoteAddr.
func Of(req *http.Request) netip.Addr {
	if req == nil {
		return netip.Addr{}
	}
	return parseHost(req.RemoteAddr)
}

// KeyOf is Key of the request's client address. A RemoteAddr that is no
// address (never from net/http's server) keys by itself, so such requests do
// not all share one bucket.
func KeyOf(req *http.Request) string {
	if k := Key(Of(req)); k != "" || req == nil {
		return k
	}
	return req.RemoteAddr
}

// Key is the address a limit counts by: the IPv4 address, or the /64 of an
// IPv6 address (one customer's allocation, which one host usually holds
// whole, so an attacker cannot cheaply vary it). "" for the invalid address.
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
