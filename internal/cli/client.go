package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

func clientCommands() []Command {
	return append(appCommands(), []Command{
		{Path: "client create", Summary: "register an OAuth client (prints client_id and, once, the secret)", Run: runClientCreate},
		{Path: "client list", Summary: "list OAuth clients", Run: runClientList},
		{Path: "client show", Args: "CLIENT_ID", Summary: "show one OAuth client", Run: runClientShow},
		{Path: "client disable", Args: "CLIENT_ID", Summary: "disable a client: its tokens stop working at once", Run: runClientStatus(store.ClientDisabled)},
		{Path: "client enable", Args: "CLIENT_ID", Summary: "re-enable (or approve) a client", Run: runClientStatus(store.ClientActive)},
		{Path: "client delete", Args: "CLIENT_ID", Summary: "delete a client with its secrets, grants, tokens and consents", Run: runClientDelete},
	}...)
}

// listFlag is a repeatable flag; each value may also hold several items
// separated by commas or spaces.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		*l = append(*l, s)
	}
	return nil
}

// clientJSON is how clients are printed with --output json.
type clientJSON struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Type         string   `json:"type"`
	Status       string   `json:"status"`
	Owner        string   `json:"owner"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	// ResourceServer is the API identifier of a resource server's client.
	ResourceServer string `json:"resource_server,omitempty"`
	AccessTTL      string `json:"access_token_ttl,omitempty"`
	RefreshTTL     string `json:"refresh_token_ttl,omitempty"`
	// AccessTokenFormat and SubjectType are shown when set (not inherited
	// or public).
	AccessTokenFormat string `json:"access_token_format,omitempty"`
	SubjectType       string `json:"subject_type,omitempty"`
	CreatedAt         string `json:"created_at"`
}

func toClientJSON(c *store.Client, owner string) clientJSON {
	j := clientJSON{
		ClientID: c.ID, Name: c.Name, Description: c.Description, Type: c.Type, Status: c.Status, Owner: owner,
		RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes, ResourceServer: c.ResourceServer,
		AccessTokenFormat: c.AccessTokenFormat, SubjectType: c.SubjectType,
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339),
	}
	if j.SubjectType == oauth.SubjectPublic {
		j.SubjectType = ""
	}
	if c.AccessTTL > 0 {
		j.AccessTTL = c.AccessTTL.String()
	}
	if c.RefreshTTL > 0 {
		j.RefreshTTL = c.RefreshTTL.String()
	}
	return j
}

func ownerEmail(ctx context.Context, a *app.App, id string) string {
	if u, err := a.Store.UserByID(ctx, id); err == nil {
		return u.Email
	}
	return id
}

func runClientCreate(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("client create")
	env.OutputFlag(fs)
	var redirects, grants, scopes, postLogout listFlag
	name := fs.String("name", "", "the app's name, shown on the consent page (required)")
	desc := fs.String("description", "", "one sentence about the app, shown on the consent page")
	owner := fs.String("owner", "", "email of the owning user; client_credentials tokens act as them (default: the only administrator, if there is exactly one)")
	public := fs.Bool("public", false, "a public client (native or browser app without a secret): PKCE only")
	accessTTL := fs.Duration("access-ttl", 0, "access token lifetime for this client (default: the server's)")
	refreshTTL := fs.Duration("refresh-ttl", 0, "refresh token lifetime for this client (default: the server's)")
	fs.Var(&redirects, "redirect-uri", "a redirect URI, compared by exact match; https, or http://127.0.0.1 / http://[::1] (any port) for native apps (repeatable)")
	fs.Var(&grants, "grant-type", "authorization_code, refresh_token, client_credentials or implicit (legacy) (repeatable; default authorization_code and refresh_token)")
	fs.Var(&scopes, "scope", "a scope the client may request: "+strings.Join(clientScopeNames(), ", ")+", or one of the config file's scopes (repeatable)")
	resourceServer := fs.String("resource-server", "", "register a resource server's credentials instead of an app: the identifier of an API declared in the config file's \"apis\" section; it can only introspect credentials meant for that API (no redirect URIs, grant types or scopes)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "where OpenID Connect logout (/oauth/logout) may send the browser back to, compared by exact match (repeatable)")
	idTokenAlg := fs.String("id-token-alg", "", "the algorithm of this client's ID tokens (id_token_signed_response_alg; default RS256)")
	tokenFormat := fs.String("token-format", "", "opaque or jwt: this client's access token format (default: the server's access_token_format; an API's token_format still wins for tokens meant for it)")
	subjectType := fs.String("subject-type", "", "public (default) or pairwise: pairwise gives this client its own sub for each user, computed for the host of its redirect URIs (which must all be on one host)")
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	if *name == "" {
		return usageErrorf("--name is required")
	}
	if *resourceServer != "" && (len(grants) > 0 || len(redirects) > 0 || len(scopes) > 0 || *public) {
		return usageErrorf("--resource-server registers an introspection-only client: it takes no --redirect-uri, --grant-type, --scope or --public")
	}
	if len(grants) == 0 && *resourceServer == "" {
		grants = listFlag{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := clientOwner(ctx, a, *owner)
	if err != nil {
		return err
	}
	c, secret, err := a.OAuth.CreateClient(ctx, oauth.NewClient{
		Name: *name, Description: *desc, OwnerID: u.ID, Public: *public,
		RedirectURIs: redirects, GrantTypes: grants, Scopes: scopes,
		AccessTTL: *accessTTL, RefreshTTL: *refreshTTL, ResourceServer: *resourceServer,
		PostLogoutRedirectURIs: postLogout, IDTokenAlg: *idTokenAlg,
		AccessTokenFormat: *tokenFormat, SubjectType: *subjectType,
		// The command line is the administrator's path: it may register
		// sensitive scopes.
		ByAdmin: true,
	})
	var inv *oauth.InvalidClientError
	if errors.As(err, &inv) {
		return fmt.Errorf("the client was not created:\n  %s", strings.ReplaceAll(inv.Err.Error(), "\n", "\n  "))
	}
	if err != nil {
		return err
	}
	out := toClientJSON(c, u.Email)
	out.ClientSecret = secret
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "client_id:     %s\n", c.ID)
		if secret != "" {
			fmt.Fprintf(w, "client_secret: %s\n\nThe secret is shown only now: store it safely. Gatehouse keeps only a hash of it.\n", secret)
		} else {
			fmt.Fprintln(w, "public client: no secret; it must use PKCE (S256).")
		}
	})
}

// clientOwner finds the user named by --owner, or the only administrator
// when --owner is empty.
func clientOwner(ctx context.Context, a *app.App, owner string) (*store.User, error) {
	if owner == "" {
		users, err := a.Store.ListUsers(ctx)
		if err != nil {
			return nil, err
		}
		var admins []store.User
		for _, u := range users {
			if u.Admin && !u.Disabled {
				admins = append(admins, u)
			}
		}
		if len(admins) != 1 {
			return nil, errors.New("--owner EMAIL is required (the default, the only administrator, applies only when there is exactly one)")
		}
		return &admins[0], nil
	}
	email, err := identity.NormalizeEmail(owner)
	if err != nil {
		return nil, fmt.Errorf("--owner: %w", err)
	}
	u, err := a.Store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("--owner: no user %s (create one with `gatehouse user create`)", email)
	}
	return u, err
}

func runClientList(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("client list")
	env.OutputFlag(fs)
	owner := fs.String("owner", "", "only the clients of this user (email)")
	a, _, err := env.Open(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	ownerID := ""
	if *owner != "" {
		email, err := identity.NormalizeEmail(*owner)
		if err != nil {
			return fmt.Errorf("--owner: %w", err)
		}
		u, err := a.Store.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("--owner %s: %w", email, err)
		}
		ownerID = u.ID
	}
	clients, err := a.Store.ListClients(ctx, ownerID)
	if err != nil {
		return err
	}
	out := make([]clientJSON, 0, len(clients))
	emails := map[string]string{}
	for i := range clients {
		c := &clients[i]
		if _, ok := emails[c.OwnerID]; !ok {
			emails[c.OwnerID] = ownerEmail(ctx, a, c.OwnerID)
		}
		out = append(out, toClientJSON(c, emails[c.OwnerID]))
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tSTATUS\tOWNER\tGRANT TYPES\tSCOPES")
		for _, c := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ClientID, c.Name, c.Type, c.Status, c.Owner,
				strings.Join(c.GrantTypes, ","), strings.Join(c.Scopes, " "))
		}
		tw.Flush()
	})
}

func runClientShow(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("client show")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := clientByID(ctx, a, rest[0])
	if err != nil {
		return err
	}
	j := toClientJSON(c, ownerEmail(ctx, a, c.OwnerID))
	return env.Print(j, func(w io.Writer) {
		fmt.Fprintf(w, "client_id:     %s\nname:          %s\ntype:          %s\nstatus:        %s\nowner:         %s\nredirect URIs: %s\ngrant types:   %s\nscopes:        %s\ncreated:       %s\n",
			j.ClientID, j.Name, j.Type, j.Status, j.Owner, strings.Join(j.RedirectURIs, " "),
			strings.Join(j.GrantTypes, " "), strings.Join(j.Scopes, " "), j.CreatedAt)
		if j.ResourceServer != "" {
			fmt.Fprintf(w, "resource server: %s (introspection only)\n", j.ResourceServer)
		}
	})
}

func clientByID(ctx context.Context, a *app.App, id string) (*store.Client, error) {
	c, err := a.Store.ClientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidText) {
		// An id that is not text names no client (PostgreSQL refuses to
		// even compare it); %q shows its bytes escaped.
		return nil, fmt.Errorf("no client %q", id)
	}
	return c, err
}

func runClientStatus(status string) func(ctx context.Context, env *Env, args []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		fs := env.FlagSet("client " + map[string]string{store.ClientDisabled: "disable", store.ClientActive: "enable"}[status])
		env.OutputFlag(fs)
		a, rest, err := env.Open(ctx, fs, args, 1)
		if err != nil {
			return err
		}
		defer a.Close()
		if _, err := clientByID(ctx, a, rest[0]); err != nil {
			return err
		}
		// Through the app service, as the portal and the console: the
		// operator at the shell is the System actor.
		if status == store.ClientDisabled {
			_, err = a.Apps.Disable(ctx, apps.SystemActor(), rest[0], "")
		} else {
			_, err = a.Apps.Enable(ctx, apps.SystemActor(), rest[0])
		}
		if err != nil {
			return err
		}
		return env.Print(map[string]string{"client_id": rest[0], "status": status}, func(w io.Writer) {
			fmt.Fprintf(w, "client %s is now %s\n", rest[0], status)
		})
	}
}

func runClientDelete(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("client delete")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := clientByID(ctx, a, rest[0]); err != nil {
		return err
	}
	if err := a.Apps.Delete(ctx, apps.SystemActor(), rest[0]); err != nil {
		return err
	}
	return env.Print(map[string]any{"client_id": rest[0], "deleted": true}, func(w io.Writer) {
		fmt.Fprintf(w, "client %s deleted, with its secrets, grants, tokens and consents\n", rest[0])
	})
}

// clientScopeNames are the built-in scopes an app may be registered for:
// every one but the administrator-only scope, which no app can hold.
func clientScopeNames() []string {
	var out []string
	for _, sc := range scope.Builtin().All() {
		if !sc.AdminOnly {
			out = append(out, sc.Name)
		}
	}
	return out
}
