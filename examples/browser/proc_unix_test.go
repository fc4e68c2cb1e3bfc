//go:build unix

package browser_test

import (
	"os"
	"os/exec"
	"syscall"
)

// pipeSupported: chromium's --remote-debugging-pipe reads file descriptors
// 3 and 4, which exec.Cmd.ExtraFiles provides on Unix.
const pipeSupported = true

// inOwnGroup starts cmd in a process group of its own, so that
// killGroup can end chromium's helper processes with it.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills every process left in the group of p, which inOwnGroup
// started; the group is p's own id.
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
