//go:build !linux

package bench

import "os/exec"

// dieWithParent has no portable equivalent: the bench stops its server on
// every return path instead. (CPU and RSS figures need Linux's /proc too.)
func dieWithParent(cmd *exec.Cmd) {}
