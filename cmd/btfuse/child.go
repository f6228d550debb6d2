package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/launcher"
)

// newCmdChild is the hidden subcommand the launcher child of 'btfuse run'
// runs as. The child's work is done by a C constructor in package
// launcher (launch_child.c) before the Go runtime starts, so this only
// names it in ps and refuses a direct call. Importing launcher here is
// also what links that constructor into btfuse.
func newCmdChild() *cobra.Command {
	return &cobra.Command{
		Use:    launcher.ChildArg,
		Hidden: true,
		// Let "--" through to RunE rather than to flag parsing errors.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%s is internal to 'btfuse run' and cannot be called directly", launcher.ChildArg)
		},
	}
}
