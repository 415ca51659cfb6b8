package main

import (
	"os"
	"strings"
	"testing"
)

// testdata/run.json is real `go test -json ./...` output of three packages:
// a (passes, two skips with different messages), b (a failing subtest and a
// skip), c (no test files).
func TestSummaryShowsSkipsAndFailures(t *testing.T) {
	in, err := os.Open("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out strings.Builder
	ok, err := summarize(in, &out)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Error("a run with a failed test must not be ok")
	}
	got := out.String()
	for _, want := range []string{
		"ok    example.com/fx/a\t0.2s\t3 passed, 2 SKIPPED\n",
		"FAIL  example.com/fx/b\t0.0s\t2 passed, 1 SKIPPED, 1 FAILED\n",
		// The failing subtest's whole output, once (not again for its parent).
		"b_test.go:6: want 3, got 4\n--- FAIL: TestOuter/inner",
		// Skips grouped by message, without the file:line prefix.
		"    2  PostgreSQL half skipped: set GATEHOUSE_TEST_POSTGRES_URL\n",
		"         example.com/fx/b TestMore/postgres\n",
		"    1  /usr/bin/chromium not installed\n         example.com/fx/a TestBrowser\n",
		"5 passed, 3 skipped, 1 failed; 1 packages without tests\nFAIL\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "want 3, got 4"); n != 1 {
		t.Errorf("failure output shown %d times, want once:\n%s", n, got)
	}
	if strings.Contains(got, "example.com/fx/c") {
		t.Errorf("a package without tests is listed:\n%s", got)
	}
}

// TestSummaryPassingRunIsOK: only package a (passes with skips) → exit 0.
func TestSummaryPassingRunIsOK(t *testing.T) {
	data, err := os.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, `"Package":"example.com/fx/a"`) {
			lines = append(lines, l)
		}
	}
	var out strings.Builder
	ok, err := summarize(strings.NewReader(strings.Join(lines, "\n")), &out)
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v\n%s", ok, err, out.String())
	}
	if !strings.Contains(out.String(), "2 SKIPPED") {
		t.Errorf("skips not shown:\n%s", out.String())
	}
}

// TestSummaryFailsWithoutResults: empty input (go test could not start, or
// -json was forgotten) and a package cut off mid-run are failures, not an
// empty success.
func TestSummaryFailsWithoutResults(t *testing.T) {
	for name, in := range map[string]string{
		"empty":       "",
		"plain text":  "ok  \texample.com/fx/a\t0.1s\n",
		"interrupted": `{"Action":"start","Package":"example.com/fx/a"}` + "\n" + `{"Action":"run","Package":"example.com/fx/a","Test":"TestPass"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			ok, err := summarize(strings.NewReader(in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				t.Errorf("ok for %q:\n%s", in, out.String())
			}
		})
	}
}

// TestSummaryBuildFailure: a package that does not compile fails the run and
// its compiler output is shown.
func TestSummaryBuildFailure(t *testing.T) {
	in := `{"ImportPath":"example.com/fx/d [example.com/fx/d.test]","Action":"build-output","Output":"# example.com/fx/d\n"}
{"ImportPath":"example.com/fx/d [example.com/fx/d.test]","Action":"build-output","Output":"d/d_test.go:3:1: syntax error\n"}
{"ImportPath":"example.com/fx/d [example.com/fx/d.test]","Action":"build-fail"}
{"Action":"start","Package":"example.com/fx/d"}
{"Action":"output","Package":"example.com/fx/d","Output":"FAIL\texample.com/fx/d [build failed]\n"}
{"Action":"fail","Package":"example.com/fx/d","Elapsed":0,"FailedBuild":"example.com/fx/d [example.com/fx/d.test]"}
`
	var out strings.Builder
	ok, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if ok || !strings.Contains(out.String(), "d_test.go:3:1: syntax error") {
		t.Errorf("ok=%v:\n%s", ok, out.String())
	}
}
