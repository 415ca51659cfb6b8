package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

func auditCommands() []Command {
	return []Command{
		{Path: "audit verify", Summary: "walk the audit log's hash chain; report the first broken entry (exit 1) or ok", Run: runAuditVerify,
			Long: "Checks every entry against its hash and its predecessor's, starting from the signed checkpoint pruning leaves (audit_retention). Needs the master key the server uses."},
		{Path: "audit list", Summary: "list audit log entries, newest first", Run: runAuditList},
	}
}

func runAuditVerify(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("audit verify")
	a, _, err := env.Open(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	b, n, err := a.Audit.Verify(ctx)
	if err != nil {
		return err
	}
	if b != nil {
		return fmt.Errorf("chain broken at %s (%d entries before it verified)", b, n)
	}
	fmt.Fprintf(env.Stdout, "ok %d entries\n", n)
	return nil
}

func runAuditList(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("audit list")
	env.OutputFlag(fs)
	typ := fs.String("type", "", "only entries of this type (e.g. sign_in, app.approved)")
	user := fs.String("user", "", "only entries a user did or that were done to them (user id)")
	app := fs.String("app", "", "only entries about an app or by it (client id)")
	addr := fs.String("address", "", "only entries from this client address")
	since := fs.Duration("since", 0, "only entries younger than this, e.g. 24h")
	limit := fs.Int("limit", 50, "at most this many entries")
	a, _, err := env.Open(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	f := store.AuditFilter{Type: *typ, User: *user, App: *app, ClientAddr: *addr, Limit: *limit}
	if *since > 0 {
		f.Since = a.Now().Add(-*since)
	}
	list, err := a.Audit.List(ctx, f)
	if err != nil {
		return err
	}
	out := make([]audit.View, 0, len(list))
	for _, e := range list {
		out = append(out, audit.ViewOf(e))
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tAT\tTYPE\tOUTCOME\tACTOR\tSUBJECT\tADDRESS\tDETAILS")
		for _, e := range out {
			actor := e.ActorKind
			if e.ActorID != "" {
				actor += ":" + e.ActorID
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.Format(time.RFC3339), e.Type, e.Outcome, actor,
				dash(e.Subject), dash(e.ClientAddr), e.Details)
		}
		tw.Flush()
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
