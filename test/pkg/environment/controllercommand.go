package environment

import (
	"fmt"
	"path/filepath"
)

// ControllerCommandFunc returns the command that runs the controller, called before every (re)start once workDir
// holds the kubeconfig and the credentials files the controller's environment points at (ControllerEnv). The command
// gets that environment and must serve the health endpoint of settings.healthProbePort on loopback.
type ControllerCommandFunc func(workDir string) (path string, args []string, err error)

// controllerCommand is Options.ControllerCommand, or else the controller binary built from this checkout.
func (e *Environment) controllerCommand() (string, []string, error) {
	if e.opts.ControllerCommand == nil {
		return filepath.Join(e.binDir, "controller"), nil, nil
	}
	path, args, err := e.opts.ControllerCommand(e.WorkDir)
	if err != nil {
		return "", nil, fmt.Errorf("preparing the controller command, %w", err)
	}
	return path, args, nil
}
