package daemon

import (
	"context"
	"fmt"
	"log/slog"
)

// embed starts the daemon that 'btfuse run' keeps for its command's
// lifetime when no daemon serves cfg.Dir (RunCommand): the same filesystem, FUSE mount,
// registry entry, control socket and shared-memory mirror as Run, so that
// status, trace, metrics and other 'btfuse run --mount' commands see it. It
// prints nothing on success; the log goes to cfg.Stderr. The returned stop
// takes it all down again; call it once the command has exited.
func embed(cfg Config) (*instance, func(), error) {
	_, stderr := writers(cfg.Stdout, cfg.Stderr)
	log := newLogger(stderr, nil, cfg.Verbose, cfg.Debug)
	slog.SetDefault(log) // fuseserve logs through the default logger: plain lines, not slog's
	in, err := start(cfg, log, stderr, true)
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		if _, err := in.shutdown(context.Background(), stderr); err != nil {
			fmt.Fprintf(stderr, "btfuse run: %v\n", err)
		}
	}
	return in, stop, nil
}
