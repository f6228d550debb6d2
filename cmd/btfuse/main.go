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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// SIGHUP (the terminal was closed) stops a daemon as SIGINT and SIGTERM
	// do: its default action would kill it without unmounting, leaving a
	// dead mount and losing the data. 'btfuse run' forwards all three to
	// its command as well (package launcher).
	//
	// After the first signal the daemon shuts down cleanly; a second one
	// takes the default action and kills it.
	context.AfterFunc(ctx, stop)
	root := NewCmdRoot()
	if isHelper(os.Args[0]) {
		root.SetContext(ctx)
		code := runHelper(root, os.Args[1:])
		stop()
		os.Exit(code)
	}
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "btfuse:", err)
		stop()
		os.Exit(1)
	}
}
