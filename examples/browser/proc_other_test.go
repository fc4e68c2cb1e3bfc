//go:build !unix

package browser_test

import (
	"os"
	"os/exec"
)

// pipeSupported: exec.Cmd.ExtraFiles, which chromium's
// --remote-debugging-pipe needs, is not supported here.
const pipeSupported = false

func inOwnGroup(*exec.Cmd)    {}
func killGroup(p *os.Process) { _ = p.Kill() }
