package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/scope"
)

func apikeyCommands() []Command {
	return []Command{
		{Path: "apikey create", Summary: "create an API key for an app (prints the key, once)", Run: runAPIKeyCreate},
		{Path: "apikey list", Summary: "list an app's API keys (never the keys themselves)", Run: runAPIKeyList},
		{Path: "apikey revoke", Args: "KEY_ID", Summary: "revoke an API key: it stops working at once", Run: runAPIKeyRevoke},
	}
}

// apikeyService builds the API-key service on the App's store. The command
// line acts as apikey.Actor{System: true}: whoever can run it has the
// database anyway.
func apikeyService(a *app.App) (*apikey.Service, error) {
	// The App's own service: the same configuration (scopes, the
	// deployment's credential label) as the server's.
	return a.APIKeys, nil
}

// parseLifetime reads a Go duration ("720h", "90m") or a number of days
// ("90d").
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--expires-in %q: want a positive duration such as 90d or 720h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires-in %q: want a positive duration such as 90d or 720h", s)
	}
	return d, nil
}

func apikeyErr(err error, clientID string) error {
	var ie *apikey.InvalidError
	switch {
	case errors.As(err, &ie):
		flag := map[string]string{"allowed_cidrs": "allow-cidr", "scopes": "scope", "expires_in": "expires-in", "name": "name"}[ie.Field]
		return fmt.Errorf("--%s: %s", flag, ie.Message)
	case errors.Is(err, apikey.ErrNotFound):
		return fmt.Errorf("no client %q (or no such key of it)", clientID)
	}
	return err
}

func runAPIKeyCreate(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("apikey create")
	env.OutputFlag(fs)
	var scopes, cidrs listFlag
	client := fs.String("client", "", "client_id of the app the key belongs to (required)")
	name := fs.String("name", "", "what the key is for, e.g. \"billing worker\" (required)")
	expires := fs.String("expires-in", "", "lifetime, e.g. 90d or 720h (default: no expiry)")
	fs.Var(&scopes, "scope", "an app-level scope the app is registered for: "+strings.Join(appScopeNames(), ", ")+", or one of the config file's scopes (repeatable; at least one)")
	fs.Var(&cidrs, "allow-cidr", "accept the key only from this address or CIDR range, e.g. 203.0.113.0/24 (repeatable; default any address). Checked against the TCP peer address: behind a proxy, all requests come from the proxy")
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	if *client == "" || *name == "" {
		return usageErrorf("--client and --name are required")
	}
	lifetime, err := parseLifetime(*expires)
	if err != nil {
		return err
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := apikeyService(a)
	if err != nil {
		return err
	}
	c, err := svc.Create(ctx, apikey.Actor{System: true}, apikey.CreateRequest{
		ClientID: *client, Name: *name, Scopes: scopes, ExpiresIn: lifetime, AllowedCIDRs: cidrs,
	})
	if err != nil {
		return apikeyErr(err, *client)
	}
	out := apikey.CreatedBody{Key: c.Secret, Item: apikey.ItemOf(c.Key)}
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "key:     %s\nid:      %s\nclient:  %s\nscopes:  %s\n", c.Secret, c.Key.ID, c.Key.ClientID, strings.Join(c.Key.Scopes, " "))
		if len(c.Key.AllowedCIDRs) > 0 {
			fmt.Fprintf(w, "from:    %s\n", strings.Join(c.Key.AllowedCIDRs, " "))
		}
		if c.Key.ExpiresAt != nil {
			fmt.Fprintf(w, "expires: %s\n", c.Key.ExpiresAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w, "\nThe key is shown only now: store it safely. Gatehouse keeps only a hash of it.\nSend it as `Authorization: Bearer <key>` or `X-API-Key: <key>`, never in a URL.")
	})
}

// appScopeNames are the built-in app-level scopes, for the help text (the
// configuration, and so the operator's scopes, is read after the flags).
func appScopeNames() []string { return scope.Builtin().NamesFor(scope.App) }

func runAPIKeyList(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("apikey list")
	env.OutputFlag(fs)
	client := fs.String("client", "", "client_id of the app (required)")
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	if *client == "" {
		return usageErrorf("--client is required")
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := apikeyService(a)
	if err != nil {
		return err
	}
	keys, err := svc.List(ctx, apikey.Actor{System: true}, *client)
	if err != nil {
		return apikeyErr(err, *client)
	}
	out := make([]apikey.Item, 0, len(keys))
	for _, k := range keys {
		out = append(out, apikey.ItemOf(k))
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tALLOWED FROM\tCREATED\tLAST USED\tEXPIRES")
		for _, k := range out {
			from := strings.Join(k.AllowedCIDRs, ",")
			if from == "" {
				from = "any"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, " "), from,
				k.CreatedAt.Format(time.RFC3339), when(k.LastUsedAt), when(k.ExpiresAt))
		}
		tw.Flush()
	})
}

func runAPIKeyRevoke(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("apikey revoke")
	env.OutputFlag(fs)
	client := fs.String("client", "", "client_id of the app (required)")
	rest, err := env.Parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *client == "" {
		return usageErrorf("--client is required")
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := apikeyService(a)
	if err != nil {
		return err
	}
	if err := svc.Revoke(ctx, apikey.Actor{System: true}, *client, rest[0]); err != nil {
		return apikeyErr(err, *client)
	}
	return env.Print(map[string]string{"client_id": *client, "id": rest[0], "status": "revoked"}, func(w io.Writer) {
		fmt.Fprintf(w, "API key %s of %s is revoked\n", rest[0], *client)
	})
}
