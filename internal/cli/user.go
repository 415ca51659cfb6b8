package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
)

func userCommands() []Command {
	return []Command{
		{Path: "user create", Summary: "create a user (password read from standard input)", Run: runUserCreate},
		{Path: "user list", Summary: "list users", Run: runUserList},
		{Path: "user disable", Args: "EMAIL", Summary: "disable a user: sessions and credentials stop working at once", Run: runUserDisabled(true)},
		{Path: "user enable", Args: "EMAIL", Summary: "re-enable a disabled user", Run: runUserDisabled(false)},
	}
}

// userJSON is how users are printed with --output json.
type userJSON struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Admin     bool   `json:"admin"`
	Disabled  bool   `json:"disabled"`
	TwoFactor bool   `json:"two_factor"`
	CreatedAt string `json:"created_at"`
}

func toUserJSON(u *store.User) userJSON {
	return userJSON{
		ID: u.ID, Email: u.Email, Name: u.Name, Admin: u.Admin, Disabled: u.Disabled,
		TwoFactor: u.TOTPEnabled, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
	}
}

// readPassword reads the first line of r, without its line ending. The
// password never comes from the command line, where ps and shell history see
// it.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no standard input to read the password from")
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("empty password on standard input")
	}
	return line, nil
}

func runUserCreate(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("user create")
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "display name")
	admin := fs.Bool("admin", false, "make the user an administrator")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	env.OutputFlag(fs)
	if _, err := env.Parse(fs, args, 0); err != nil {
		return err
	}
	if *email == "" {
		return usageErrorf("--email is required")
	}
	if !*stdin {
		return usageErrorf("--password-stdin is required: pipe the password in, e.g. `printf %%s \"$PW\" | gatehouse user create --email a@example.com --password-stdin`")
	}
	pw, err := readPassword(env.Stdin)
	if err != nil {
		return err
	}
	a, err := env.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Identity.CreateUser(ctx, identity.NewUser{Email: *email, Name: *name, Password: pw, Admin: *admin})
	var pe *identity.PolicyError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("password refused: %s", pe.Message)
	case errors.Is(err, identity.ErrEmailTaken):
		return fmt.Errorf("a user with email %s already exists", strings.ToLower(strings.TrimSpace(*email)))
	case errors.Is(err, identity.ErrInvalidEmail):
		return fmt.Errorf("%q is not an email address", *email)
	case err != nil:
		return err
	}
	// The operator vouches for the address of an account they create.
	if err := a.AccountMail.MarkEmailVerified(ctx, u.ID); err != nil {
		return err
	}
	return env.Print(toUserJSON(u), func(w io.Writer) {
		role := "user"
		if u.Admin {
			role = "administrator"
		}
		fmt.Fprintf(w, "created %s %s (%s)\n", role, u.Email, u.ID)
	})
}

func runUserList(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("user list")
	env.OutputFlag(fs)
	a, _, err := env.Open(ctx, fs, args, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	users, err := a.Identity.ListUsers(ctx)
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(users))
	for i := range users {
		out = append(out, toUserJSON(&users[i]))
	}
	return env.Print(out, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tADMIN\tDISABLED\t2FA\tCREATED\tID")
		for _, u := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, yesNo(u.Admin), yesNo(u.Disabled), yesNo(u.TwoFactor), u.CreatedAt, u.ID)
		}
		tw.Flush()
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runUserDisabled(disabled bool) func(ctx context.Context, env *Env, args []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		verb := "enable"
		if disabled {
			verb = "disable"
		}
		fs := env.FlagSet("user " + verb)
		env.OutputFlag(fs)
		a, rest, err := env.Open(ctx, fs, args, 1)
		if err != nil {
			return err
		}
		defer a.Close()
		// The same operations as the console and the admin API.
		adm := a.Identity.Admin()
		u, err := findUser(ctx, adm, rest[0])
		if err != nil {
			return err
		}
		if disabled {
			u, err = adm.Disable(ctx, cliActor, u.ID)
		} else {
			u, err = adm.Enable(ctx, cliActor, u.ID)
		}
		if err != nil {
			return err
		}
		return env.Print(toUserJSON(u), func(w io.Writer) {
			fmt.Fprintf(w, "%sd %s (%s)\n", verb, u.Email, u.ID)
		})
	}
}
