package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/internal/apps"
)

// appCommands are the review and secret verbs of the app service; the
// operator at the shell acts as apps.SystemActor.
func appCommands() []Command {
	return append([]Command{
		{Path: "app approve", Args: "CLIENT_ID", Summary: "approve an app and everything of it awaiting review", Run: runAppApprove},
		{Path: "app reject", Args: "CLIENT_ID", Summary: "reject an app (or its parts awaiting review) with --reason", Run: runAppReject},
		{Path: "app rotate-secret", Args: "CLIENT_ID", Summary: "add a second secret (printed once); the old one retires after the grace period", Run: runAppRotate},
		{Path: "app retire-secret", Args: "CLIENT_ID SECRET_ID", Summary: "stop one of an app's secrets at once", Run: runAppRetire},
	}, appAdminCommands()...)
}

func runAppApprove(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app approve")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	app, err := a.Apps.Approve(ctx, apps.SystemActor(), rest[0], apps.ApproveInput{})
	if err != nil {
		return err
	}
	return env.Print(map[string]string{"client_id": app.ID, "status": app.Status}, func(w io.Writer) {
		fmt.Fprintf(w, "app %s is now %s\n", app.ID, app.Status)
	})
}

func runAppReject(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app reject")
	reason := fs.String("reason", "", "why (the developer sees it)")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	app, err := a.Apps.Reject(ctx, apps.SystemActor(), rest[0], *reason)
	if err != nil {
		return err
	}
	return env.Print(map[string]string{"client_id": app.ID, "status": app.Status, "reason": app.ReviewReason}, func(w io.Writer) {
		fmt.Fprintf(w, "app %s is now %s: %s\n", app.ID, app.Status, app.ReviewReason)
	})
}

func runAppRotate(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app rotate-secret")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 1)
	if err != nil {
		return err
	}
	defer a.Close()
	secret, info, err := a.Apps.RotateSecret(ctx, apps.SystemActor(), rest[0])
	if err != nil {
		return err
	}
	return env.Print(map[string]string{"client_id": rest[0], "secret_id": info.ID, "client_secret": secret}, func(w io.Writer) {
		fmt.Fprintf(w, "new secret %s of app %s (shown once):\n%s\n", info.ID, rest[0], secret)
	})
}

func runAppRetire(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("app retire-secret")
	env.OutputFlag(fs)
	a, rest, err := env.Open(ctx, fs, args, 2)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Apps.RetireSecret(ctx, apps.SystemActor(), rest[0], rest[1]); err != nil {
		return err
	}
	return env.Print(map[string]any{"client_id": rest[0], "secret_id": rest[1], "retired": true}, func(w io.Writer) {
		fmt.Fprintf(w, "secret %s of app %s retired\n", rest[1], rest[0])
	})
}
