package cli

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// TestCLIAndConsoleProduceTheSameState does each administrator action once
// through the CLI and once through the console, on two users in the same
// state, and compares what is stored.
func TestCLIAndConsoleProduceTheSameState(t *testing.T) {
	db := newDB(t)
	create := func(email string, admin bool) string {
		args := []string{"user", "create", "--email", email, "--password-stdin", "--output", "json"}
		if admin {
			args = append(args, "--admin")
		}
		code, out, errs := runCLI(t, db, "vivid otter anchors the lamp\n", args...)
		if code != 0 {
			t.Fatalf("create %s: %d %s", email, code, errs)
		}
		var u userJSON
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	create("root@example.com", true)

	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Environ: func() []string { return nil },
		Getenv: func(k string) string {
			return map[string]string{"GATEHOUSE_MASTER_KEY": testKey, "GATEHOUSE_DATABASE": db, "GATEHOUSE_LOG_LEVEL": "error"}[k]
		}}
	ctx := context.Background()
	a, err := env.OpenApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler("test"))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRe := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	get := func(path string) (int, string) {
		t.Helper()
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	submit := func(formPage, action string, form url.Values) (int, string) {
		t.Helper()
		_, body := get(formPage)
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token on %s:\n%s", formPage, body)
		}
		form.Set("csrf_token", html.UnescapeString(m[1]))
		res, err := client.PostForm(srv.URL+action, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	if code, loc := submit("/login", "/login", url.Values{"email": {"root@example.com"}, "password": {"vivid otter anchors the lamp"}}); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", code, loc)
	}

	type state struct {
		u       store.User
		retired bool // CredentialsChangedAt moved past creation
	}
	comparable := func(u *store.User) state {
		c := *u
		retired := c.CredentialsChangedAt.After(c.CreatedAt)
		// Ids, names and times differ between the two users by design.
		c.ID, c.Email, c.Name, c.PasswordHash = "", "", "", ""
		c.CreatedAt, c.UpdatedAt, c.CredentialsChangedAt = time.Time{}, time.Time{}, time.Time{}
		return state{c, retired}
	}
	for i, verb := range []string{"force-password-change", "reset-2fa", "end-sessions", "disable", "enable"} {
		byCLI := create("cli"+string(rune('a'+i))+"@example.com", false)
		byConsole := create("console"+string(rune('a'+i))+"@example.com", false)
		if verb == "enable" {
			for _, id := range []string{byCLI, byConsole} {
				if _, err := a.Identity.Admin().Disable(ctx, "test", id); err != nil {
					t.Fatal(err)
				}
			}
		}
		if code, _, errs := runCLI(t, db, "", "user", verb, byCLI); code != 0 {
			t.Fatalf("cli %s: %d %s", verb, code, errs)
		}
		if code, loc := submit("/console/users/"+byConsole, "/console/users/"+byConsole+"/"+verb, url.Values{}); code != http.StatusSeeOther || !strings.Contains(loc, "done="+verb) {
			t.Fatalf("console %s: %d %s", verb, code, loc)
		}
		u1, err := a.Store.UserByID(ctx, byCLI)
		if err != nil {
			t.Fatal(err)
		}
		u2, err := a.Store.UserByID(ctx, byConsole)
		if err != nil {
			t.Fatal(err)
		}
		if comparable(u1) != comparable(u2) {
			t.Errorf("%s: CLI stored %+v, console stored %+v", verb, comparable(u1), comparable(u2))
		}
		s1, _ := a.Store.ListUserSessions(ctx, byCLI)
		s2, _ := a.Store.ListUserSessions(ctx, byConsole)
		if len(s1) != len(s2) {
			t.Errorf("%s: sessions %d vs %d", verb, len(s1), len(s2))
		}
	}
	// The console lists and searches users, and is not there for non-administrators.
	if code, body := get("/console/users?q=clia"); code != 200 || !strings.Contains(body, "clia@example.com") || strings.Contains(body, "consolea@example.com") {
		t.Fatalf("console search: %d", code)
	}
	jar2, _ := cookiejar.New(nil)
	client.Jar = jar2
	if code, loc := submit("/login", "/login", url.Values{"email": {"clib@example.com"}, "password": {"vivid otter anchors the lamp"}}); code != http.StatusSeeOther {
		t.Fatalf("sign in as user: %d %s", code, loc)
	}
	if code, _ := get("/console/users"); code != http.StatusNotFound {
		t.Fatalf("console for a non-administrator: %d, want 404", code)
	}
}
