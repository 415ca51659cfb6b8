package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// AddressPolicy keeps webhook calls from reaching the server's own network
// (SSRF): an endpoint may not resolve to a loopback, private, link-local
// (169.254.169.254, the cloud metadata service, is one), shared
// (100.64.0.0/10), multicast or unspecified address. The check runs when an
// endpoint is registered and again on every connection, after DNS, so a
// name re-pointed at an internal address later is refused too.
type AddressPolicy struct {
	// Allowed lists host names and CIDRs exempt from the check, for
	// operators whose receivers are internal.
	Allowed []string
	// DevLoopback allows loopback receivers, over http too (development
	// and tests; never in production).
	DevLoopback bool
}

// Validate checks the allow-list entries.
func (p *AddressPolicy) Validate() error {
	for _, a := range p.Allowed {
		a = strings.TrimSpace(a)
		if strings.Contains(a, "/") {
			if _, err := netip.ParsePrefix(a); err != nil {
				return fmt.Errorf("webhook: allowed host %q: %w", a, err)
			}
		}
	}
	return nil
}

// allowedHost: the name is on the allow-list.
func (p *AddressPolicy) allowedHost(host string) bool {
	for _, a := range p.Allowed {
		if strings.EqualFold(strings.TrimSpace(a), host) {
			return true
		}
	}
	return false
}

// allowedIP: the address is in an allow-listed CIDR (or is one).
func (p *AddressPolicy) allowedIP(ip netip.Addr) bool {
	for _, a := range p.Allowed {
		a = strings.TrimSpace(a)
		if pfx, err := netip.ParsePrefix(a); err == nil && pfx.Masked().Contains(ip) {
			return true
		}
		if one, err := netip.ParseAddr(a); err == nil && one.Unmap() == ip {
			return true
		}
	}
	return false
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598; 100.100.100.200 is a metadata service

// CheckAddr says whether a connection to ip is allowed.
func (p *AddressPolicy) CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	if p.allowedIP(ip) {
		return nil
	}
	switch {
	case ip.IsLoopback():
		if p.DevLoopback {
			return nil
		}
		return fmt.Errorf("%s is a loopback address", ip)
	case ip.IsPrivate(), sharedSpace.Contains(ip):
		return fmt.Errorf("%s is a private address", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("%s is a link-local address (cloud metadata lives there)", ip)
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%s is not a unicast address", ip)
	}
	return nil
}

// CheckURL validates an endpoint URL and returns it normalised: https (or
// http to loopback with DevLoopback), no user info, a host that resolves
// only to allowed addresses.
func (p *AddressPolicy) CheckURL(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || len(raw) > 2000 {
		return "", invalid("url", "must be an absolute https URL")
	}
	if u.User != nil || u.Fragment != "" {
		return "", invalid("url", "must not hold user info or a fragment")
	}
	host := strings.ToLower(u.Hostname())
	switch u.Scheme {
	case "https":
	case "http":
		if !p.DevLoopback || !isLoopbackName(host) {
			return "", invalid("url", "must use https (http only to loopback, with webhook_dev_loopback)")
		}
	default:
		return "", invalid("url", "must use https")
	}
	if p.allowedHost(host) {
		return u.String(), nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(ip); err != nil {
			return "", invalid("url", "%v", err)
		}
		return u.String(), nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "", invalid("url", "host %q does not resolve", host)
	}
	for _, ip := range addrs {
		if err := p.CheckAddr(ip); err != nil {
			return "", invalid("url", "%s resolves to %v", host, err)
		}
	}
	return u.String(), nil
}

func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

var errRefused = errors.New("webhook: address refused")

// transport dials through a net.Dialer whose Control sees the address
// actually connected to (after DNS, on every connection), so the check
// cannot be raced by a DNS answer that changes between check and use.
// Hosts on the allow-list by name skip it.
func (p *AddressPolicy) transport() http.RoundTripper {
	checked := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", errRefused, address)
		}
		if err := p.CheckAddr(ap.Addr()); err != nil {
			return fmt.Errorf("%w: %v", errRefused, err)
		}
		return nil
	}}
	plain := &net.Dialer{Timeout: 10 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy would connect on our behalf, past the check
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && p.allowedHost(host) {
			return plain.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
	tr.MaxIdleConnsPerHost = 4
	return tr
}
