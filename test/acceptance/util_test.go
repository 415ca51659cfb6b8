package acceptance

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// artifactsDir is where a test saves its screenshots: $GATEHOUSE_ARTIFACTS/<test>
// when set (CI keeps that folder), otherwise a t.TempDir that is removed when
// the test ends, so local runs do not pile images up in the temp directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("GATEHOUSE_ARTIFACTS")
	if base == "" {
		t.Log("screenshots are discarded: set GATEHOUSE_ARTIFACTS to a folder to keep them")
		return t.TempDir()
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browserTempDir is a directory for Chromium's $TMPDIR, removed when the test
// ends. Chromium puts a Unix socket in it, whose path may not exceed 107
// bytes, so it is a short name in the temp directory rather than a t.TempDir
// (which embeds the test name).
func browserTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
