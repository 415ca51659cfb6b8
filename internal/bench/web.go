package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// NotAvailableError marks a workload whose endpoint the server does not have
// (yet): it is reported as "n/a", not as a failure.
type NotAvailableError struct{ What string }

func (e *NotAvailableError) Error() string { return e.What + " not available" }

func notAvailable(what string, r *request, resp *http.Response) error {
	return &NotAvailableError{What: fmt.Sprintf("%s (%s → %d)", what, r.step(), resp.StatusCode)}
}

// missing reports whether a status means "no such route": 404, or 405 when
// the path exists for other methods only.
func missing(status int) bool {
	return status == http.StatusNotFound || status == http.StatusMethodNotAllowed
}

// pkce returns a fresh RFC 7636 code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	var b [32]byte
	rand.Read(b[:])
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomState() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorizeURL is the authorization request of the code flow.
func authorizeURL(clientID, redirectURI, scope, state, challenge string) string {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"state":                 {state},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	return "/oauth2/authorize?" + v.Encode()
}

// codeFromRedirect extracts the code from a redirect to the client, checking
// state and reporting an OAuth error response as an error.
func codeFromRedirect(location, redirectURI, state string) (string, error) {
	if !strings.HasPrefix(location, redirectURI) {
		return "", fmt.Errorf("redirected to %q, not to the client", location)
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return "", fmt.Errorf("state mismatch in %q", location)
	}
	code := q.Get("code")
	if code == "" {
		return "", fmt.Errorf("no code in %q", location)
	}
	return code, nil
}

var (
	reAllow = regexp.MustCompile(`(?i)allow|approve|accept|authori[sz]e|grant|consent|yes|continue`)
	reDeny  = regexp.MustCompile(`(?i)deny|cancel|reject|decline|refuse|\bno\b`)
	reLogin = regexp.MustCompile(`(?i)^(email|e-mail|username|login|user|identifier)$`)
	reTitle = regexp.MustCompile(`(?is)<title>(.*?)</title>`)
)

// pageText is a short plain-text excerpt of an HTML page, for errors.
func pageText(body []byte) string {
	s := string(body)
	if m := reTitle.FindStringSubmatch(s); m != nil {
		s = m[1] + " — " + s[len(m[0]):]
	}
	s = reTag.ReplaceAllString(s, " ")
	s = strings.Join(strings.Fields(html.UnescapeString(s)), " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// browserAuthorize walks an authorization request as a browser would: it
// follows same-origin redirects, fills the sign-in form, accepts the consent
// page, and stops at the redirect to redirectURI, returning the code. The
// session cookie stays in jar, so later requests skip both pages.
func browserAuthorize(ctx context.Context, c *httpClient, jar *cookieJar, email, password, authURL, redirectURI, state string) (string, error) {
	var buf bytes.Buffer
	cur := &request{Method: "GET", URL: c.base + authURL, HTML: true}
	signedIn, consented := false, false
	for step := 0; step < 16; step++ {
		cur.Cookie = jar.header()
		resp, err := c.do(ctx, cur, &buf)
		if err != nil {
			return "", err
		}
		jar.update(resp)
		curURL, _ := url.Parse(cur.URL)

		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc := resp.Header.Get("Location")
			next, err := curURL.Parse(loc)
			if err != nil {
				return "", fmt.Errorf("bad Location %q: %w", loc, err)
			}
			if strings.HasPrefix(next.String(), redirectURI) {
				return codeFromRedirect(next.String(), redirectURI, state)
			}
			if next.Host != curURL.Host {
				return "", fmt.Errorf("redirected off the server to %q", next)
			}
			cur = &request{Method: "GET", URL: next.String(), HTML: true}
			continue
		case missing(resp.StatusCode) && cur.Method == "GET":
			what := "sign-in page"
			if step == 0 {
				what = "authorization endpoint"
			}
			return "", notAvailable(what, cur, resp)
		case resp.StatusCode != http.StatusOK:
			return "", fmt.Errorf("%s: HTTP %d: %s", cur.step(), resp.StatusCode, pageText(buf.Bytes()))
		}

		// A page: sign in, or consent, or we are stuck.
		forms := parseForms(buf.String())
		var next *request
		for _, f := range forms {
			if f.hasInputType("password") {
				if signedIn {
					return "", fmt.Errorf("sign-in refused: %s", pageText(buf.Bytes()))
				}
				signedIn = true
				next = submit(curURL, &f, firstButton(&f), func(in htmlInput) (string, bool) {
					switch {
					case in.Type == "password":
						return password, true
					case in.Type == "email" || reLogin.MatchString(in.Name):
						return email, true
					}
					return "", false
				})
				break
			}
		}
		if next == nil {
			for _, f := range forms {
				if b := allowButton(&f); b != nil {
					if consented {
						return "", fmt.Errorf("consent page shown again: %s", pageText(buf.Bytes()))
					}
					consented = true
					next = submit(curURL, &f, b, nil)
					break
				}
			}
		}
		if next == nil {
			return "", fmt.Errorf("%s: a page with neither a sign-in form nor an Allow button: %s", cur.step(), pageText(buf.Bytes()))
		}
		cur = next
	}
	return "", errors.New("too many steps in the authorization flow")
}

func firstButton(f *htmlForm) *htmlInput {
	if len(f.Buttons) > 0 {
		return &f.Buttons[0]
	}
	return nil
}

func allowButton(f *htmlForm) *htmlInput {
	for i, b := range f.Buttons {
		s := b.Name + " " + b.Value + " " + b.Text
		if reAllow.MatchString(s) && !reDeny.MatchString(b.Value+" "+b.Text) {
			return &f.Buttons[i]
		}
	}
	return nil
}

// submit builds the request a browser sends for form f with button b.
func submit(page *url.URL, f *htmlForm, b *htmlInput, fill func(htmlInput) (string, bool)) *request {
	if fill == nil {
		fill = func(htmlInput) (string, bool) { return "", false }
	}
	vals := f.values(fill)
	if b != nil && b.Name != "" {
		vals.Add(b.Name, b.Value)
	}
	target := page
	if f.Action != "" {
		if u, err := page.Parse(f.Action); err == nil {
			target = u
		}
	}
	if f.Method == "GET" {
		t := *target
		t.RawQuery = vals.Encode()
		return &request{Method: "GET", URL: t.String(), HTML: true}
	}
	return &request{Method: "POST", URL: target.String(), Body: []byte(vals.Encode()), CType: formType, HTML: true}
}
