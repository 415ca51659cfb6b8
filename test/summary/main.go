// Command summary reads `go test -json` on standard input and prints what a
// plain `go test ./...` hides: how many tests each package skipped, and why.
//
//	go test -race -json ./... | go run ./test/summary
//
// Without -v, `go test` prints the same "ok" for a package whose PostgreSQL
// half, browser walk or gateway check was skipped as for one that ran them
// all, so a newcomer cannot tell a full run from a partial one. This prints
// one line per package with its pass and skip counts (and, like go test, the
// whole output of every failed test), then the skipped tests grouped by
// their skip message. It exits 1 when a package failed or did not build, or
// when the input held no test results at all.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	ok, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

type pkgState struct {
	passed, skipped, failed int
	output                  []string            // lines not attributed to a test
	tests                   map[string][]string // output of each test, kept until it ends
	failedTests             map[string]bool
	failures                []string // output of failed tests, in order
}

// skip is one skipped test.
type skip struct{ pkg, test string }

// reportLine matches the prefix t.Log and t.Skip put before a message.
var reportLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: ?`)

// summarize reads test2json events from r, writes the summary to w, and
// reports whether every package passed.
func summarize(r io.Reader, w io.Writer) (bool, error) {
	pkgs := map[string]*pkgState{}
	state := func(name string) *pkgState {
		p := pkgs[name]
		if p == nil {
			p = &pkgState{tests: map[string][]string{}, failedTests: map[string]bool{}}
			pkgs[name] = p
		}
		return p
	}
	reasons := map[string][]skip{}
	builds := map[string][]string{} // build output by import path
	ok, results, noTests := true, 0, 0
	var passed, skipped, failed int

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line) // not an event: pass it through
			continue
		}
		switch e.Action {
		case "build-output":
			builds[e.ImportPath] = append(builds[e.ImportPath], e.Output)
			continue
		case "build-fail":
			ok = false
			fmt.Fprintf(w, "FAIL  %s [build failed]\n%s", e.ImportPath, strings.Join(builds[e.ImportPath], ""))
			continue
		}
		if e.Package == "" {
			continue
		}
		p := state(e.Package)
		if e.Test == "" {
			switch e.Action {
			case "output":
				p.output = append(p.output, e.Output)
			case "skip": // no test files
				noTests++
				results++
				delete(pkgs, e.Package)
			case "pass", "fail":
				results++
				status := "ok  "
				if e.Action == "fail" {
					status, ok = "FAIL", false
				}
				fmt.Fprintf(w, "%s  %s\t%.1fs\t%s\n", status, e.Package, e.Elapsed, counts(p.passed, p.skipped, p.failed))
				for _, f := range p.failures {
					fmt.Fprint(w, f)
				}
				if e.Action == "fail" && p.failed == 0 && e.FailedBuild == "" {
					// A failure outside any test: a panic in TestMain, a
					// timeout, a crash. Its output is all there is.
					fmt.Fprint(w, strings.Join(p.output, ""))
				}
				passed, skipped, failed = passed+p.passed, skipped+p.skipped, failed+p.failed
				delete(pkgs, e.Package)
			}
			continue
		}
		switch e.Action {
		case "output":
			p.tests[e.Test] = append(p.tests[e.Test], e.Output)
		case "pass":
			p.passed++
			delete(p.tests, e.Test)
		case "skip":
			p.skipped++
			reason := skipReason(p.tests[e.Test])
			reasons[reason] = append(reasons[reason], skip{e.Package, e.Test})
			delete(p.tests, e.Test)
		case "fail":
			// A parent fails when a subtest does; count and show the
			// subtest only (its output already names the parent).
			if !p.hasFailedSubtest(e.Test) {
				p.failed++
				p.failures = append(p.failures, strings.Join(p.tests[e.Test], ""))
			}
			p.failedTests[e.Test] = true
			delete(p.tests, e.Test)
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	for name := range pkgs {
		// Started but never finished: the run was cut short.
		ok = false
		fmt.Fprintf(w, "FAIL  %s [no result: the run was interrupted]\n", name)
	}
	if results == 0 {
		fmt.Fprintln(w, "summary: no test results on standard input (run: go test -json ./... | go run ./test/summary)")
		return false, nil
	}

	if len(reasons) > 0 {
		total := 0
		for _, s := range reasons {
			total += len(s)
		}
		fmt.Fprintf(w, "\nSkipped tests (%d), by reason:\n", total)
		writeReasons(w, reasons)
	}
	fmt.Fprintf(w, "\n%d passed, %d skipped, %d failed", passed, skipped, failed)
	if noTests > 0 {
		fmt.Fprintf(w, "; %d packages without tests", noTests)
	}
	fmt.Fprintln(w)
	if !ok {
		fmt.Fprintln(w, "FAIL")
	}
	return ok, nil
}

// hasFailedSubtest reports whether a subtest of test has failed already (a
// subtest's failure fails every test above it; only the subtest counts).
func (p *pkgState) hasFailedSubtest(test string) bool {
	for name := range p.failedTests {
		if strings.HasPrefix(name, test+"/") {
			return true
		}
	}
	return false
}

// skipReason is the message the test gave t.Skip: the last line it logged
// before "--- SKIP", without the file:line prefix.
func skipReason(output []string) string {
	var reason string
	for _, o := range output {
		s := strings.TrimSpace(o)
		if s == "" || strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "--- ") {
			continue
		}
		if loc := reportLine.FindStringIndex(o); loc != nil {
			reason = strings.TrimSpace(o[loc[1]:])
		} else {
			reason = s // a continuation of a multi-line message
		}
	}
	if reason == "" {
		return "(no message)"
	}
	return reason
}

func counts(passed, skipped, failed int) string {
	s := fmt.Sprintf("%d passed", passed)
	if skipped > 0 {
		s += fmt.Sprintf(", %d SKIPPED", skipped)
	}
	if failed > 0 {
		s += fmt.Sprintf(", %d FAILED", failed)
	}
	return s
}

// writeReasons prints each skip message once, most frequent first, with the
// tests it names (a few) or the packages and how many in each (many).
func writeReasons(w io.Writer, reasons map[string][]skip) {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(reasons[keys[i]]) != len(reasons[keys[j]]) {
			return len(reasons[keys[i]]) > len(reasons[keys[j]])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		skips := reasons[k]
		fmt.Fprintf(w, "%5d  %s\n", len(skips), k)
		if len(skips) <= 3 {
			for _, s := range skips {
				fmt.Fprintf(w, "         %s %s\n", s.pkg, s.test)
			}
			continue
		}
		per := map[string]int{}
		var names []string
		for _, s := range skips {
			if per[s.pkg] == 0 {
				names = append(names, s.pkg)
			}
			per[s.pkg]++
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "         %s (%d)\n", n, per[n])
		}
	}
}
