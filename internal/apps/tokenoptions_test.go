package apps_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

func ptr[T any](v T) *T { return &v }

// TestTokenOptions: the access token format and subject type are set at
// registration and edit through the service, shown in the app's view, and
// checked: jwt needs signing keys (the test server has none), pairwise needs
// one redirect host, and a pairwise app keeps its subject type and host.
func TestTokenOptions(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		dev := e.CreateUser("dev@example.com", false)
		me := apps.UserActor(dev.ID, true)

		in := webApp("profile:read")
		in.AccessTokenFormat, in.SubjectType = oauth.FormatOpaque, oauth.SubjectPairwise
		a, _, err := e.svc.Register(e.Ctx, me, in)
		if err != nil {
			t.Fatal(err)
		}
		if a.AccessTokenFormat != oauth.FormatOpaque || a.SubjectType != oauth.SubjectPairwise {
			t.Fatalf("registered format %q subject type %q", a.AccessTokenFormat, a.SubjectType)
		}
		got, err := e.svc.Get(e.Ctx, me, a.ID)
		if err != nil || got.AccessTokenFormat != oauth.FormatOpaque || got.SubjectType != oauth.SubjectPairwise {
			t.Fatalf("Get: %+v %v", got, err)
		}
		// A default app shows public and inherits the format.
		plain, _, err := e.svc.Register(e.Ctx, me, webApp("profile:read"))
		if err != nil || plain.SubjectType != oauth.SubjectPublic || plain.AccessTokenFormat != "" {
			t.Fatalf("default app: %q %q %v", plain.SubjectType, plain.AccessTokenFormat, err)
		}

		refused := []struct {
			name  string
			in    apps.UpdateInput
			field string
			want  string
		}{
			{"jwt without keys", apps.UpdateInput{AccessTokenFormat: ptr(oauth.FormatJWT)}, "", "JWT access tokens are not available"},
			{"unknown format", apps.UpdateInput{AccessTokenFormat: ptr("macaroon")}, "", `access token format "macaroon"`},
			{"pairwise to public", apps.UpdateInput{SubjectType: ptr(oauth.SubjectPublic)}, "subject_type", "stays pairwise"},
			{"pairwise to another host", apps.UpdateInput{RedirectURIs: &[]string{"https://elsewhere.example/cb"}}, "redirect_uris", `stay on host "app.example"`},
			{"pairwise on two hosts", apps.UpdateInput{RedirectURIs: &[]string{"https://app.example/cb", "https://elsewhere.example/cb"}}, "", "every redirect URI on one host"},
		}
		for _, tc := range refused {
			_, err := e.svc.Update(e.Ctx, me, a.ID, tc.in)
			var inv *apps.InvalidError
			if !errorsAs(err, &inv) || !strings.Contains(strings.Join(inv.Fields[tc.field], "; "), tc.want) {
				t.Errorf("%s: err = %v, want %q on field %q", tc.name, err, tc.want, tc.field)
			}
		}
		// Allowed: back to inherit, another path on the same host.
		u, err := e.svc.Update(e.Ctx, me, a.ID, apps.UpdateInput{
			AccessTokenFormat: ptr(""), RedirectURIs: &[]string{"https://app.example/cb", "https://app.example/cb2"}})
		if err != nil || u.AccessTokenFormat != "" || u.SubjectType != oauth.SubjectPairwise {
			t.Fatalf("allowed edit: %+v %v", u, err)
		}
		// A public app may become pairwise (the developer's choice).
		if u, err := e.svc.Update(e.Ctx, me, plain.ID, apps.UpdateInput{SubjectType: ptr(oauth.SubjectPairwise)}); err != nil || u.SubjectType != oauth.SubjectPairwise {
			t.Fatalf("public to pairwise: %+v %v", u, err)
		}
		// Registering pairwise on two hosts is refused with the reason.
		in = webApp("profile:read")
		in.SubjectType, in.RedirectURIs = oauth.SubjectPairwise, []string{"https://a.example/cb", "https://b.example/cb"}
		if _, _, err := e.svc.Register(e.Ctx, me, in); err == nil || !strings.Contains(err.Error(), "every redirect URI on one host") {
			t.Fatalf("pairwise on two hosts registered: %v", err)
		}
	})
}

func errorsAs(err error, target **apps.InvalidError) bool { return errors.As(err, target) }
