package daemon

import (
	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/fastlane"
)

// startFastLane serves the fast lane's channel on the control socket: the
// preload library of a supervised process handshakes there (OpHandshake).
// It comes after the supervisor, whose credentials and path rules it uses,
// and is closed before it.
func (in *instance) startFastLane() func() {
	in.fast = fastlane.New(in.fs, in.sup, in.log, in.mir.observer(), in.faults)
	in.ctl.Handle(fastlane.OpHandshake, in.fast.Handshake)
	return in.fast.Close
}

// fastLaneEnv is the environment through which the preload library of a
// command run on mount finds the control socket of the daemon serving it:
// the registry's socket for mount, which an embedded daemon also claims.
// Without the library it is unused.
func fastLaneEnv(runtimeDir, mount string) []string {
	runtimeDir, err := registryDir(runtimeDir)
	if err != nil {
		return nil
	}
	return []string{fastlane.SocketEnv + "=" + control.SocketPath(runtimeDir, mount)}
}
