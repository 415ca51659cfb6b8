package oauth

import (
	"context"
	"net/url"
	"strings"
)

// AppNameFor returns the registered name of the application whose
// authorization request returnTo is — a path on this server, PathAuthorize?…
// or /authorize/<client_id>?… — so that the sign-in page can say which app
// sent the person there. It returns "" for any other path and for a request
// whose client or redirect URI is not valid: the name is shown only when the
// request would be honoured, so a crafted link cannot put the name of an
// inactive app, or one with a foreign redirect URI, on the sign-in page.
func (s *Service) AppNameFor(ctx context.Context, returnTo string) string {
	u, err := url.Parse(returnTo)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	q := u.Query()
	switch {
	case u.Path == PathAuthorize:
	case strings.HasPrefix(u.Path, "/authorize/"):
		id := strings.TrimPrefix(u.Path, "/authorize/")
		if id == "" || strings.Contains(id, "/") || (q.Has("client_id") && q.Get("client_id") != id) {
			return ""
		}
		q.Set("client_id", id)
	default:
		return ""
	}
	a, _ := s.ValidateAuthorize(ctx, ParseAuthorizeRequest(q))
	if a == nil || a.Client == nil {
		return ""
	}
	return a.Client.Name
}
