// Command btfuse serves an in-memory filesystem through FUSE. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the daemon shuts down cleanly; a second one
	// takes the default action and kills it.
	context.AfterFunc(ctx, stop)
	if err := NewCmdRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "btfuse:", err)
		stop()
		os.Exit(1)
	}
}
