package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
)

// appAdminCommands are the console's app views and actions at the shell,
// over the app service as apps.SystemActor.
func appAdminCommands() []Command {
	return []Command{
		{Path: "app list", Summary: "list apps (--status pending|active|rejected|disabled, --q TEXT)", Run: runAppList},
		{Path: "app show", Args: "CLIENT_ID", Summary: "show an app with its secrets, API keys and the parts awaiting review", Run: runAppShow},
		{Path: "app disable", Args: "CLIENT_ID", Summary: "disable an app (--reason shown to the developer): its tokens and keys stop at once", Run: runAppDisable},
		{Path: "app enable", Args: "CLIENT_ID", Summary: "re-enable a disabled app", Run: runAppEnable},
		{Path: "app delete", Args: "CLIENT_ID", Summary: "delete an app with its secrets, keys, grants and tokens", Run: runAppDelete},
	}
}

// appViewJSON is an app in the command line's JSON output.
type appViewJSON struct {
	ClientID      string          `json:"client_id"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	Status        string          `json:"status"`
	ReviewReason  string          `json:"review_reason,omitempty"`
	Owner         string          `json:"owner"`
	RedirectURIs  []string        `json:"redirect_uris"`
	Scopes        []string        `json:"scopes"`
	GrantTypes    []string        `json:"grant_types"`
	PendingScopes []string        `json:"pending_scopes"`
	PendingGrants []string        `json:"pending_grant_types"`
	Secrets       []appSecretJSON `json:"secrets,omitempty"`
	APIKeys       []appKeyJSON    `json:"api_keys,omitempty"`
	// AccessTokenFormat and SubjectType appear when not the defaults
	// (inherit, public).
	AccessTokenFormat string    `json:"access_token_format,omitempty"`
	SubjectType       string    `json:"subject_type,omitempty"`
	Created           time.Time `json:"created"`
}

type appSecretJSON struct {
	ID       string     `json:"id"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	RetireAt *time.Time `json:"retire_at"`
}

type appKeyJSON struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
}

func nonNilList(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func toAppViewJSON(a apps.App, owner string) appViewJSON {
	return appViewJSON{ClientID: a.ID, Name: a.Name, Type: a.Type, Status: a.Status, ReviewReason: a.ReviewReason, Owner: owner,
		RedirectURIs: nonNilList(a.RedirectURIs), Scopes: nonNilList(a.Scopes), GrantTypes: nonNilList(a.GrantTypes),
		PendingScopes: nonNilList(a.PendingScopes), PendingGrants: nonNilList(a.PendingGrants), Created: a.Created.UTC(),
		AccessTokenFormat: a.AccessTokenFormat, SubjectType: nonPublic(a.SubjectType)}
}

// nonPublic is the subject type to show: "" for the default, public.
func nonPublic(subjectType string) string {
	if subjectType == "public" {
		return ""
	}
	return subjectType
}

func runAppList(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app list")
	status := fs.String("status", "", "only apps in this status: pending, active, rejected or disabled")
	q := fs.String("q", "", "only apps whose name or client id contains this")
	env.OutputFlag(fs)
	a, _, err := env.Open(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	switch *status {
	case "", apps.StatusPending, apps.StatusActive, apps.StatusRejected, apps.StatusDisabled:
	default:
		return fmt.Errorf("--status must be pending, active, rejected or disabled")
	}
	out := []appViewJSON{}
	emails := map[string]string{}
	for cursor := ""; ; {
		page, next, err := a.Apps.List(ctx, apps.SystemActor(), apps.ListFilter{Status: *status, Query: *q, Cursor: cursor, Limit: apps.MaxListLimit})
		if err != nil {
			return err
		}
		for _, ap := range page {
			if _, ok := emails[ap.OwnerUserID]; !ok {
				emails[ap.OwnerUserID] = ownerEmail(ctx, a, ap.OwnerUserID)
			}
			out = append(out, toAppViewJSON(ap, emails[ap.OwnerUserID]))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tSTATUS\tOWNER\tAWAITING REVIEW")
		for _, c := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ClientID, c.Name, c.Type, c.Status, c.Owner,
				strings.Join(append(append([]string{}, c.PendingGrants...), c.PendingScopes...), " "))
		}
		tw.Flush()
	})
}

func runAppShow(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app show")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	ap, err := a.Apps.Get(ctx, apps.SystemActor(), rest[0])
	if err != nil {
		return err
	}
	j := toAppViewJSON(ap, ownerEmail(ctx, a, ap.OwnerUserID))
	for _, s := range ap.Secrets {
		j.Secrets = append(j.Secrets, appSecretJSON{ID: s.ID, Created: s.Created.UTC(), LastUsed: s.LastUsed, RetireAt: s.RetireAt})
	}
	keys, err := a.Apps.ListAPIKeys(ctx, apps.SystemActor(), ap.ID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		j.APIKeys = append(j.APIKeys, appKeyJSON{ID: k.ID, Name: k.Name, Scopes: nonNilList(k.Scopes), Created: k.CreatedAt.UTC()})
	}
	return env.Print(j, func(w io.Writer) {
		fmt.Fprintf(w, "client_id:        %s\nname:             %s\ntype:             %s\nstatus:           %s\n", j.ClientID, j.Name, j.Type, j.Status)
		if j.ReviewReason != "" {
			fmt.Fprintf(w, "reason:           %s\n", j.ReviewReason)
		}
		fmt.Fprintf(w, "owner:            %s\nredirect URIs:    %s\ngrant types:      %s\nscopes:           %s\n",
			j.Owner, strings.Join(j.RedirectURIs, " "), strings.Join(j.GrantTypes, " "), strings.Join(j.Scopes, " "))
		fmt.Fprintf(w, "awaiting review:  %s\ncreated:          %s\n",
			strings.Join(append(append([]string{}, j.PendingGrants...), j.PendingScopes...), " "), j.Created.Format(time.RFC3339))
		if j.AccessTokenFormat != "" {
			fmt.Fprintf(w, "access tokens:    %s\n", j.AccessTokenFormat)
		}
		if j.SubjectType != "" {
			fmt.Fprintf(w, "subject type:     %s\n", j.SubjectType)
		}
		for _, s := range j.Secrets {
			retire := "never"
			if s.RetireAt != nil {
				retire = s.RetireAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "secret:           %s (created %s, retires %s)\n", s.ID, s.Created.Format(time.RFC3339), retire)
		}
		for _, k := range j.APIKeys {
			fmt.Fprintf(w, "API key:          %s %q (%s)\n", k.ID, k.Name, strings.Join(k.Scopes, " "))
		}
	})
}

func printAppStatus(env *Env, ap apps.App) error {
	return env.Print(map[string]string{"client_id": ap.ID, "status": ap.Status, "reason": ap.ReviewReason}, func(w io.Writer) {
		fmt.Fprintf(w, "app %s is now %s\n", ap.ID, ap.Status)
	})
}

func runAppDisable(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app disable")
	reason := fs.String("reason", "", "why (the developer sees it)")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	ap, err := a.Apps.Disable(ctx, apps.SystemActor(), rest[0], *reason)
	if err != nil {
		return err
	}
	return printAppStatus(env, ap)
}

func runAppEnable(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app enable")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	ap, err := a.Apps.Enable(ctx, apps.SystemActor(), rest[0])
	if err != nil {
		return err
	}
	return printAppStatus(env, ap)
}

func runAppDelete(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app delete")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Apps.Delete(ctx, apps.SystemActor(), rest[0]); err != nil {
		return err
	}
	return env.Print(map[string]any{"client_id": rest[0], "deleted": true}, func(w io.Writer) {
		fmt.Fprintf(w, "app %s deleted, with its secrets, keys, grants and tokens\n", rest[0])
	})
}
