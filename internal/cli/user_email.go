package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
)

func userEmailCommands() []Command {
	return []Command{
		{Path: "user send-reset", Args: "EMAIL", Summary: "email the user a password reset link (single use, 30 minutes)", Run: runUserSendReset},
	}
}

func runUserSendReset(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("user send-reset")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Identity.UserByEmail(ctx, rest[0])
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, identity.ErrInvalidEmail) {
		return fmt.Errorf("no user with email %s", rest[0])
	}
	if err != nil {
		return err
	}
	if err := a.AccountMail.SendPasswordReset(ctx, u.ID); err != nil {
		return err
	}
	// Deliver now rather than wait for a running server's outbox worker; a
	// failure leaves the message queued, retried by the server.
	delivered := "queued; delivery attempted (the log says how it went; the server retries a failure)"
	if _, err := a.Outbox.RunOnce(ctx); err != nil {
		delivered = "queued; the server will deliver it (" + err.Error() + ")"
	}
	return env.Print(map[string]string{"user_id": u.ID, "email": u.Email, "status": delivered}, func(w io.Writer) {
		fmt.Fprintf(w, "reset link for %s %s\n", u.Email, delivered)
	})
}
