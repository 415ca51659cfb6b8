package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"}
	tests := []struct {
		name    string
		trusted []string
		header  string
		remote  string
		values  []string // header lines
		want    string
	}{
		{"no proxies: header ignored", nil, "", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"untrusted peer: forged header ignored", proxies, "", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted peer, one hop", proxies, "", "10.1.2.3:40000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client forges a left entry", proxies, "", "10.1.2.3:40000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", proxies, "", "10.1.2.3:40000", []string{"6.6.6.6, 198.51.100.1, 192.168.1.1"}, "198.51.100.1"},
		{"repeated header lines join in order", proxies, "", "10.1.2.3:40000", []string{"6.6.6.6", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"all hops trusted: left-most", proxies, "", "10.1.2.3:40000", []string{"10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"trusted peer, no header", proxies, "", "10.1.2.3:40000", nil, "10.1.2.3"},
		{"garbage right of the client stops the walk", proxies, "", "10.1.2.3:40000", []string{"198.51.100.1, unknown"}, "10.1.2.3"},
		{"garbage left of the client is never read", proxies, "", "10.1.2.3:40000", []string{"not-an-ip, 198.51.100.1"}, "198.51.100.1"},
		{"ipv6 client with port in brackets", proxies, "", "[fd00::1]:443", []string{"[2001:db8::5]:1234"}, "2001:db8::5"},
		{"ipv4-mapped peer is unmapped", proxies, "", "[::ffff:10.1.2.3]:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"Forwarded header", proxies, HeaderForwarded, "10.1.2.3:40000", []string{`for=6.6.6.6, for="[2001:db8::7]:4711";proto=https`}, "2001:db8::7"},
		{"Forwarded mode ignores X-Forwarded-For", proxies, HeaderForwarded, "10.1.2.3:40000", nil, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.trusted, tt.header)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.remote
			name := tt.header
			if name == "" {
				name = HeaderXForwardedFor
			}
			for _, v := range tt.values {
				req.Header.Add(name, v)
			}
			if tt.header == HeaderForwarded {
				req.Header.Set(HeaderXForwardedFor, "6.6.6.6") // must be ignored
			}
			got, _ := r.Resolve(req)
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("Resolve = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, c := range [][]string{{"10.0.0.0/33"}, {"proxy.internal"}, {"10.0.0.1/8/2"}} {
		if _, err := New(c, ""); err == nil {
			t.Errorf("New(%q) accepted", c)
		}
	}
	if _, err := New(nil, "X-Real-IP"); err == nil {
		t.Error("New accepted an unsupported header")
	}
}

func TestMiddlewareRewritesRemoteAddrAndKeepsPeer(t *testing.T) {
	r, err := New([]string{"127.0.0.1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var gotRemote string
	var gotPeer netip.Addr
	var hasPeer bool
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		gotRemote = req.RemoteAddr
		gotPeer, hasPeer = Peer(req.Context())
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:9999"
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if gotRemote != "198.51.100.9:9999" || !hasPeer || gotPeer != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("RemoteAddr %q, peer %v (%v)", gotRemote, gotPeer, hasPeer)
	}

	// A direct request keeps its address and has no peer.
	req = httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "203.0.113.1:1"
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if gotRemote != "203.0.113.1:1" || hasPeer {
		t.Fatalf("direct request: RemoteAddr %q, peer %v", gotRemote, hasPeer)
	}
}

func BenchmarkResolveTrustedChain(b *testing.B) {
	r, _ := New([]string{"10.0.0.0/8"}, "")
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.1.2.3:40000"
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 10.2.2.2")
	b.ReportAllocs()
	for b.Loop() {
		r.Resolve(req)
	}
}

func TestOfAndKey(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2001:db8:1:2:3::9]:443"
	if got := Key(Of(req)); got != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 key %q", got)
	}
	req.RemoteAddr = "[::ffff:198.51.100.7]:1"
	if got := Key(Of(req)); got != "198.51.100.7" {
		t.Errorf("mapped IPv4 key %q", got)
	}
	if Of(nil).IsValid() || Key(netip.Addr{}) != "" {
		t.Error("no request must give no address and no key")
	}
}
