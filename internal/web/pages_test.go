package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/web"
)

// The session of the browser looking at the page is listed first, however
// many sessions were started after or before it.
func TestCurrentSessionListedFirst(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	first := s.browser(t)
	expect(t, first.signIn(email, password, ""), http.StatusSeeOther, "/account")
	for i := 0; i < 3; i++ {
		// Later sign-ins are more recently active than this browser.
		s.env.Clock.Advance(time.Second)
		expect(t, s.browser(t).signIn(email, password, ""), http.StatusSeeOther, "/account")
	}
	p := first.get("/account")
	expect(t, p, http.StatusOK, "")
	rows := regexp.MustCompile(`<tr( class="current")?>`).FindAllStringSubmatch(p.body[strings.Index(p.body, "<tbody>"):], -1)
	if len(rows) != 4 {
		t.Fatalf("%d session rows, want 4", len(rows))
	}
	if rows[0][1] == "" {
		t.Fatal("the current session is not the first row")
	}
}

// Destructive buttons ask for confirmation (pages.js reads data-confirm),
// and every page loads that script from this origin.
func TestDestructiveFormsAskForConfirmation(t *testing.T) {
	s := newTestServer(t, web.Config{})
	s.env.CreateUser(t, email, password)
	b := s.browser(t)
	expect(t, b.signIn(email, password, ""), http.StatusSeeOther, "/account")
	expect(t, s.browser(t).signIn(email, password, ""), http.StatusSeeOther, "/account")
	p := b.get("/account")
	contains(t, p, `<script src="/static/pages.js" defer></script>`)
	for _, action := range []string{"/account/sessions/end", "/account/sessions/end-others"} {
		re := regexp.MustCompile(`<form method="post" action="` + regexp.QuoteMeta(action) + `"[^>]* data-confirm="[^"]+"`)
		if !re.MatchString(p.body) {
			t.Errorf("form %s has no data-confirm", action)
		}
	}
	js := b.get("/static/pages.js")
	expect(t, js, http.StatusOK, "")
	if ct := js.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Fatalf("pages.js Content-Type %q", ct)
	}
	contains(t, js, `getAttribute("data-confirm")`, "window.confirm(")
}
