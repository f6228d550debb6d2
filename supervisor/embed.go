package supervisor

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// runEmbedDaemon runs cfg.Argv served by the daemon cfg.Embed starts.
func runEmbedDaemon(mount string, cfg RunConfig, stderr io.Writer) (int, error) {
	sup, stop, err := cfg.Embed(mount, stderr)
	if err != nil {
		return 1, err
	}
	defer stop()
	t, err := Start(cfg.Argv, cfg.Launch)
	if err != nil {
		if errors.Is(err, ErrChildExited) {
			return waitStatus(t.Cmd), nil
		}
		return 1, err
	}
	lfd, err := unix.Dup(int(t.Listener.Fd()))
	if err != nil {
		t.Abort()
		return 1, err
	}
	t.Listener.Close()
	t.Listener = nil
	go sup.Serve(lfd, t.Base, t.Size)
	return goAndWait(t)
}
