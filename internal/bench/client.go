package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// loopbackTransport is the one Transport every worker shares: keep-alive
// connections, enough idle slots that no worker ever redials, no proxy, no
// compression, and a dialer that refuses any address off this machine.
func loopbackTransport(concurrency int) *http.Transport {
	d := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("dial %s: %w", address, errNotLoopback)
			}
			return nil
		},
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no global limit
		MaxIdleConnsPerHost:   concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
}

// httpClient sends the bench's requests to one server. It never follows
// redirects: the workloads read Location themselves.
type httpClient struct {
	base string // "http://127.0.0.1:PORT", no trailing slash
	hc   *http.Client
}

func newHTTPClient(base string, concurrency int) *httpClient {
	return &httpClient{
		base: strings.TrimRight(base, "/"),
		hc: &http.Client{
			Transport: loopbackTransport(concurrency),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
			Timeout: 60 * time.Second,
		},
	}
}

func (c *httpClient) close() { c.hc.CloseIdleConnections() }

// request is one HTTP request of a workload. Body is sent as is; the slices
// are shared read-only between iterations so the loop allocates little.
type request struct {
	Method string
	URL    string // absolute, or a path on the server
	Body   []byte
	CType  string // Content-Type
	Auth   string // Authorization header value
	Cookie string // Cookie header value
	HTML   bool   // ask for a page, as a browser does (default: JSON)
	// Headers are more header fields, as name, value pairs.
	Headers []string
}

func (r *request) step() string {
	u := r.URL
	if i := strings.IndexAny(u, "?"); i >= 0 {
		u = u[:i]
	}
	if p, err := url.Parse(u); err == nil && p.Path != "" {
		u = p.Path
	}
	return r.Method + " " + u
}

// maxBody bounds what the bench reads of a response.
const maxBody = 1 << 20

// do sends r. When buf is not nil the body is read into it (reset first);
// otherwise it is drained and discarded, so the connection is reused.
func (c *httpClient) do(ctx context.Context, r *request, buf *bytes.Buffer) (*http.Response, error) {
	u := r.URL
	if strings.HasPrefix(u, "/") {
		u = c.base + u
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return nil, err
	}
	if r.CType != "" {
		req.Header.Set("Content-Type", r.CType)
	}
	if r.Auth != "" {
		req.Header.Set("Authorization", r.Auth)
	}
	if r.Cookie != "" {
		req.Header.Set("Cookie", r.Cookie)
	}
	for i := 0; i+1 < len(r.Headers); i += 2 {
		req.Header.Set(r.Headers[i], r.Headers[i+1])
	}
	if r.HTML {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if buf != nil {
		buf.Reset()
		_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	} else {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// statusErr builds the error for an unexpected status, quoting the body.
func statusErr(r *request, resp *http.Response, body []byte) *StatusError {
	b := strings.Join(strings.Fields(string(body)), " ")
	if len(b) > 300 {
		b = b[:300] + "…"
	}
	if b == "" {
		b = "(empty body)"
	}
	return &StatusError{Step: r.step(), Status: resp.StatusCode, Body: b}
}

// basicAuth is client_secret_basic (RFC 6749 §2.3.1: each part
// form-urlencoded before base64) or HTTP Basic for email:password.
func basicAuth(user, pass string, formEncode bool) string {
	if formEncode {
		user, pass = url.QueryEscape(user), url.QueryEscape(pass)
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

const formType = "application/x-www-form-urlencoded"

// ---------------------------------------------------------------- cookies

// cookieJar is a minimal jar for one origin: name → value, Secure cookies
// included (the server may mark them Secure even on loopback HTTP, where a
// browser treats the origin as secure; net/http/cookiejar would drop them).
type cookieJar struct {
	mu   sync.Mutex
	vals map[string]string
	keys []string
}

func (j *cookieJar) update(resp *http.Response) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.vals == nil {
		j.vals = map[string]string{}
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(j.vals, c.Name)
			continue
		}
		if _, ok := j.vals[c.Name]; !ok {
			j.keys = append(j.keys, c.Name)
		}
		j.vals[c.Name] = c.Value
	}
}

// header returns the Cookie header value.
func (j *cookieJar) header() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var parts []string
	for _, k := range j.keys {
		if v, ok := j.vals[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// ---------------------------------------------------------------- forms

// htmlForm is what the bench needs of a <form>: where it posts, its fields
// and its submit buttons. Parsing is deliberately forgiving (regular
// expressions over the server's own, well-formed templates).
type htmlForm struct {
	Action  string
	Method  string
	Inputs  []htmlInput
	Buttons []htmlInput // <button> and <input type=submit>: Name, Value, Text
}

type htmlInput struct {
	Name, Type, Value, Text string
	Checked                 bool
}

var (
	reForm   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	reInput  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	reButton = regexp.MustCompile(`(?is)<button\b([^>]*)>(.*?)</button>`)
	reAttr   = regexp.MustCompile(`(?is)([a-z_:][-a-z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?`)
	reTag    = regexp.MustCompile(`(?s)<[^>]*>`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range reAttr.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(a[1])
		if _, seen := m[name]; seen {
			continue
		}
		m[name] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

func parseForms(page string) []htmlForm {
	var forms []htmlForm
	for _, fm := range reForm.FindAllStringSubmatch(page, -1) {
		fa := attrs(fm[1])
		f := htmlForm{Action: fa["action"], Method: strings.ToUpper(fa["method"])}
		if f.Method == "" {
			f.Method = "GET"
		}
		for _, im := range reInput.FindAllStringSubmatch(fm[2], -1) {
			a := attrs(im[1])
			_, checked := a["checked"]
			in := htmlInput{Name: a["name"], Type: strings.ToLower(a["type"]), Value: a["value"], Checked: checked}
			if in.Type == "" {
				in.Type = "text"
			}
			if in.Type == "submit" {
				in.Text = in.Value
				f.Buttons = append(f.Buttons, in)
				continue
			}
			f.Inputs = append(f.Inputs, in)
		}
		for _, bm := range reButton.FindAllStringSubmatch(fm[2], -1) {
			a := attrs(bm[1])
			t := strings.ToLower(a["type"])
			if t != "" && t != "submit" {
				continue
			}
			text := strings.TrimSpace(html.UnescapeString(reTag.ReplaceAllString(bm[2], "")))
			f.Buttons = append(f.Buttons, htmlInput{Name: a["name"], Type: "submit", Value: a["value"], Text: text})
		}
		forms = append(forms, f)
	}
	return forms
}

// hasInputType reports whether the form has an input of type t.
func (f *htmlForm) hasInputType(t string) bool {
	for _, in := range f.Inputs {
		if in.Type == t {
			return true
		}
	}
	return false
}

// values returns the form's successful controls as a browser would send
// them: every named input with its value, checkboxes and radio buttons only
// when checked; fill may set a control's value first.
func (f *htmlForm) values(fill func(in htmlInput) (string, bool)) url.Values {
	v := url.Values{}
	for _, in := range f.Inputs {
		if in.Name == "" {
			continue
		}
		if s, ok := fill(in); ok {
			v.Add(in.Name, s)
			continue
		}
		switch in.Type {
		case "checkbox", "radio":
			if !in.Checked {
				continue
			}
			if in.Value == "" {
				in.Value = "on"
			}
		case "file", "image", "reset", "button":
			continue
		}
		v.Add(in.Name, in.Value)
	}
	return v
}
