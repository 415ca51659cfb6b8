package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
)

// userAdminCommands are the administrator's actions on one account; they
// call identity.Admin, the same operations the console and admin API use.
func userAdminCommands() []Command {
	return []Command{
		{Path: "user show", Args: "EMAIL", Summary: "show a user with their sessions and personal access tokens", Run: runUserShow},
		{Path: "user end-sessions", Args: "EMAIL", Summary: "sign a user out of every browser", Run: runUserAdmin("end-sessions", "ended the sessions of", (*identity.Admin).EndSessions)},
		{Path: "user reset-2fa", Args: "EMAIL", Summary: "remove a user's authenticator and recovery codes (lost device)", Run: runUserAdmin("reset-2fa", "reset the second factor of", (*identity.Admin).ResetSecondFactor)},
		{Path: "user force-password-change", Args: "EMAIL", Summary: "require a user to choose a new password before anything else", Run: runUserAdmin("force-password-change", "required a new password from", (*identity.Admin).ForcePasswordChange)},
	}
}

// cliActor names the operator at the command line in the service's log.
const cliActor = "cli"

type userAdminAction func(a *identity.Admin, ctx context.Context, actor, userID string) (*store.User, error)

func findUser(ctx context.Context, adm *identity.Admin, ref string) (*store.User, error) {
	u, err := adm.Find(ctx, ref)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, identity.ErrInvalidEmail) {
		return nil, fmt.Errorf("no user %s", ref)
	}
	return u, err
}

func runUserAdmin(verb, done string, action userAdminAction) func(ctx context.Context, env *Env, args []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		fs := env.FlagSet("user " + verb)
		env.OutputFlag(fs)
		a, rest, err := env.Open(ctx, fs, args, 1)
		if err != nil {
			return err
		}
		defer a.Close()
		adm := a.Identity.Admin()
		u, err := findUser(ctx, adm, rest[0])
		if err != nil {
			return err
		}
		if u, err = action(adm, ctx, cliActor, u.ID); err != nil {
			return err
		}
		return env.Print(toUserDetailJSON(u), func(w io.Writer) {
			fmt.Fprintf(w, "%s %s (%s)\n", done, u.Email, u.ID)
		})
	}
}

// userDetailJSON is `user show` with --output json.
type userDetailJSON struct {
	userJSON
	MustChangePassword bool          `json:"must_change_password"`
	Sessions           []sessionJSON `json:"sessions"`
	PATs               []patJSON     `json:"personal_access_tokens"`
	AuthorizedApps     []appJSON     `json:"authorized_apps"`
}

type appJSON struct {
	ClientID string   `json:"client_id"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"`
	Since    string   `json:"since"`
}

type sessionJSON struct {
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
	CreatedAt  string `json:"created_at"`
	LastSeenAt string `json:"last_seen_at"`
}

type patJSON struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
	CreatedAt   string   `json:"created_at"`
	Revoked     bool     `json:"revoked"`
}

func toUserDetailJSON(u *store.User) userDetailJSON {
	return userDetailJSON{userJSON: toUserJSON(u), MustChangePassword: u.MustChangePassword,
		Sessions: []sessionJSON{}, PATs: []patJSON{}, AuthorizedApps: []appJSON{}}
}

func runUserShow(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("user show")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	adm := a.Identity.Admin()
	u, err := findUser(ctx, adm, rest[0])
	if err != nil {
		return err
	}
	out := toUserDetailJSON(u)
	sessions, err := adm.Sessions(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		out.Sessions = append(out.Sessions, sessionJSON{UserAgent: s.UserAgent, IP: s.IP,
			CreatedAt: s.CreatedAt.UTC().Format(time.RFC3339), LastSeenAt: s.LastSeenAt.UTC().Format(time.RFC3339)})
	}
	pats, err := a.PATs.List(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, p := range pats {
		out.PATs = append(out.PATs, patJSON{ID: p.ID, Description: p.Description, Scopes: append([]string{}, p.Scopes...),
			CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339), Revoked: p.RevokedAt != nil})
	}
	apps, err := a.OAuth.AuthorizedApps(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, ap := range apps {
		aj := appJSON{ClientID: ap.ClientID, Name: ap.Name, Scopes: []string{}, Since: ap.Since.UTC().Format(time.RFC3339)}
		for _, sc := range ap.Scopes {
			aj.Scopes = append(aj.Scopes, sc.Name)
		}
		out.AuthorizedApps = append(out.AuthorizedApps, aj)
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "id\t%s\nemail\t%s\nname\t%s\nadmin\t%s\ndisabled\t%s\n2fa\t%s\nmust change password\t%s\ncreated\t%s\n",
			u.ID, u.Email, u.Name, yesNo(u.Admin), yesNo(u.Disabled), yesNo(u.TOTPEnabled), yesNo(u.MustChangePassword), out.CreatedAt)
		tw.Flush()
		fmt.Fprintf(w, "\nSESSIONS (%d)\n", len(out.Sessions))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range out.Sessions {
			fmt.Fprintf(tw, "%s\t%s\tsince %s\tlast seen %s\n", s.IP, s.UserAgent, s.CreatedAt, s.LastSeenAt)
		}
		tw.Flush()
		fmt.Fprintf(w, "\nPERSONAL ACCESS TOKENS (%d)\n", len(out.PATs))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, p := range out.PATs {
			state := "active"
			if p.Revoked {
				state = "revoked"
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", p.ID, p.Description, p.Scopes, state, p.CreatedAt)
		}
		tw.Flush()
		fmt.Fprintf(w, "\nAUTHORIZED APPS (%d)\n", len(out.AuthorizedApps))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, ap := range out.AuthorizedApps {
			fmt.Fprintf(tw, "%s\t%s\t%v\tsince %s\n", ap.ClientID, ap.Name, ap.Scopes, ap.Since)
		}
		tw.Flush()
	})
}
