package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the server if the bench dies first.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
