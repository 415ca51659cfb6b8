package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
)

func keysCommands() []Command {
	return []Command{
		{Path: "keys list", Summary: "list the JWT signing keys: kid, algorithm, state, when each signs and leaves the JWKS", Run: runKeysList},
		{Path: "keys rotate", Summary: "make a successor signing key (published now, signs after signing_key_publish_ahead)", Run: runKeysRotate},
	}
}

// keyItem is a signing key as `keys list --output json` prints it.
type keyItem struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	ActiveAt  time.Time  `json:"active_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func keyItemOf(k keys.KeyInfo) keyItem {
	return keyItem{KID: k.KID, Alg: k.Alg, State: k.State, CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt, RetiredAt: k.RetiredAt, ExpiresAt: k.ExpiresAt}
}

func runKeysList(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("keys list")
	env.OutputFlag(fs)
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	list, err := a.Keys.List(ctx)
	if err != nil {
		return err
	}
	out := make([]keyItem, 0, len(list))
	for _, k := range list {
		out = append(out, keyItemOf(k))
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tSTOPS SIGNING\tLEAVES JWKS")
		for _, k := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, k.CreatedAt.UTC().Format(time.RFC3339),
				k.ActiveAt.UTC().Format(time.RFC3339), when(k.RetiredAt), when(k.ExpiresAt))
		}
		tw.Flush()
	})
}

func runKeysRotate(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("keys rotate")
	env.OutputFlag(fs)
	alg := fs.String("alg", "", "rotate only this algorithm's key: "+strings.Join(keys.Supported(), ", ")+" (default: every algorithm the server signs with)")
	now := fs.Bool("immediately", false, "sign with the new key at once instead of after signing_key_publish_ahead (a suspected key compromise; relying parties refetch the JWKS on the unknown kid)")
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	algs := a.Keys.Algorithms()
	if *alg != "" {
		algs = []string{*alg}
	}
	var out []keyItem
	for _, al := range algs {
		k, err := a.Keys.Rotate(ctx, al, *now)
		if err != nil {
			return err
		}
		out = append(out, keyItemOf(k))
	}
	return env.Print(out, func(w io.Writer) {
		for _, k := range out {
			fmt.Fprintf(w, "%s key %s published; signs from %s\n", k.Alg, k.KID, k.ActiveAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w, "The keys it replaces stop signing then and stay in the JWKS until every token they signed has expired.")
	})
}
