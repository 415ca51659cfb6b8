package cli

import (
	"io"
	"slices"
	"testing"
)

func TestParseAcceptsFlagsAnywhere(t *testing.T) {
	cases := []struct {
		args     []string
		want     int
		wantPos  []string
		wantOut  string
		wantName string
		wantErr  bool
	}{
		{[]string{"ID", "--output", "json"}, 1, []string{"ID"}, "json", "", false},
		{[]string{"--output", "json", "ID"}, 1, []string{"ID"}, "json", "", false},
		{[]string{"A", "--name", "x y", "B"}, 2, []string{"A", "B"}, "text", "x y", false},
		{[]string{"--", "--output"}, 1, []string{"--output"}, "text", "", false},
		{[]string{"A", "B"}, 1, nil, "", "", true},
		{[]string{"A", "--nope"}, 1, nil, "", "", true},
		{[]string{"--output", "yaml", "A"}, 1, nil, "", "", true},
	}
	for _, c := range cases {
		env := &Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}
		fs := env.FlagSet("test")
		env.OutputFlag(fs)
		name := fs.String("name", "", "")
		pos, err := env.Parse(fs, c.args, c.want)
		if (err != nil) != c.wantErr {
			t.Errorf("%q: err = %v, want error %v", c.args, err, c.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if !slices.Equal(pos, c.wantPos) || *env.output != c.wantOut || *name != c.wantName {
			t.Errorf("%q: positional %q output %q name %q; want %q %q %q", c.args, pos, *env.output, *name, c.wantPos, c.wantOut, c.wantName)
		}
	}
}
