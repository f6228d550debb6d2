package supervisor

import (
	"io"

	"github.com/btfuse/btfuse/launcher"
)

// runEmbedDaemon runs cfg.Argv served by the daemon cfg.Embed starts.
func runEmbedDaemon(mount string, cfg RunConfig, stderr io.Writer, t *launcher.Target) (int, error) {
	sup, stop, err := cfg.Embed(mount, stderr)
	if err != nil {
		t.Abort()
		return 1, err
	}
	defer stop()
	return serveCommand(sup, t)
}
