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
	if err := NewCmdRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "btfuse:", err)
		stop()
		os.Exit(1)
	}
}
