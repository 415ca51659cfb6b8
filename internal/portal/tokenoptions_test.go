package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	formatRE  = regexp.MustCompile(`id="app-token-format">([^<]*)<`)
	subjectRE = regexp.MustCompile(`id="app-subject-type">([^<]*)<`)
)

// TestPortalTokenOptions: the developer picks the access token format and
// subject type at registration, sees them on the app's page, changes them
// in the details form, and is told why pairwise cannot be turned off.
func TestPortalTokenOptions(t *testing.T) {
	e := open(t, nil)
	b := e.signIn("dev@example.com")
	if p := b.get("/portal/apps/new"); !strings.Contains(p.body, `name="access_token_format"`) || !strings.Contains(p.body, `name="subject_type"`) {
		t.Fatalf("the registration form lacks the token options")
	}
	in := webAppInput()
	in.Set("access_token_format", "opaque")
	in.Set("subject_type", "pairwise")
	p := b.postMultipart("/portal/apps/new", in, nil)
	if p.status != http.StatusCreated {
		t.Fatalf("register: %d %.500s", p.status, p.body)
	}
	id := appIDRE.FindStringSubmatch(p.body)[1]
	shown := func() (string, string) {
		p := b.get("/portal/apps/" + id)
		f, s := formatRE.FindStringSubmatch(p.body), subjectRE.FindStringSubmatch(p.body)
		if f == nil || s == nil {
			t.Fatalf("the app page lacks the token options: %.800s", p.body)
		}
		return f[1], s[1]
	}
	if f, s := shown(); f != "opaque" || s != "pairwise" {
		t.Fatalf("shown format %q subject %q, want opaque pairwise", f, s)
	}
	// Back to the server default: saved.
	if p := b.post("/portal/apps/"+id+"/edit", url.Values{"access_token_format": {""}, "subject_type": {"pairwise"}}); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %.500s", p.status, p.body)
	}
	if f, s := shown(); f != "server default" || s != "pairwise" {
		t.Errorf("after edit: format %q subject %q", f, s)
	}
	// Pairwise cannot be turned off, and the page says why.
	p = b.post("/portal/apps/"+id+"/edit", url.Values{"subject_type": {"public"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "stays pairwise") {
		t.Errorf("pairwise to public: %d %.600s", p.status, p.body)
	}
	if _, s := shown(); s != "pairwise" {
		t.Errorf("subject type after the refused edit: %q", s)
	}
	// Pairwise with redirect URIs on two hosts is refused at registration.
	in = webAppInput()
	in.Set("subject_type", "pairwise")
	in.Set("redirect_uris", "https://printer.example/cb https://other.example/cb")
	if p := b.postMultipart("/portal/apps/new", in, nil); p.status != http.StatusBadRequest || !strings.Contains(p.body, "one host") {
		t.Errorf("pairwise on two hosts: %d %.600s", p.status, p.body)
	}
}
