package oauth_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// The consent page says who is asking: the app's links and Gatehouse-served
// logo, the reviewed mark for a reviewed app, a warning for an unreviewed
// sandbox app — and the "Not you?" form returning to the request.
func TestConsentShowsTheApp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		for _, c := range []struct {
			env            string
			reviewed, warn bool
		}{{"production", true, false}, {"sandbox", false, true}} {
			a := e.client(owner, oauth.NewClient{Name: "Photo Printer " + c.env})
			cl, err := e.st.ClientByID(e.ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			cl.HomepageURL, cl.PrivacyURL, cl.TermsURL = "https://printer.example/", "https://printer.example/privacy", "https://printer.example/terms"
			cl.Environment = c.env
			if err := e.st.UpdateClient(e.ctx, cl); err != nil {
				t.Fatal(err)
			}
			if err := e.st.SetClientLogo(e.ctx, a.ID, []byte("\x89PNG fake"), cl.UpdatedAt); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.login(alice.Email)
			p := b.get(authzURL("response_type", "code", "client_id", a.ID, "redirect_uri", redirectURI, "scope", "profile:read", "state", "st"))
			if !isConsentPage(p) {
				t.Fatalf("%s: no consent page: %d %.300s", c.env, p.status, p.body)
			}
			for _, want := range []string{
				`href="https://printer.example/"`, `href="https://printer.example/privacy"`, `href="https://printer.example/terms"`,
				`src="/apps/` + a.ID + `/logo.png?v=`, `id="consent-not-you"`, `name="return_to" value="/oauth2/authorize?`,
			} {
				if !strings.Contains(p.body, want) {
					t.Errorf("%s: consent page lacks %q", c.env, want)
				}
			}
			if got := strings.Contains(p.body, `id="consent-reviewed"`); got != c.reviewed {
				t.Errorf("%s: reviewed mark %v, want %v", c.env, got, c.reviewed)
			}
			if got := strings.Contains(p.body, `id="consent-unreviewed"`); got != c.warn {
				t.Errorf("%s: unreviewed warning %v, want %v", c.env, got, c.warn)
			}
			if strings.Contains(p.body, owner.Email) {
				t.Errorf("%s: the developer's email is shown", c.env)
			}
		}
	})
}
