package main

import (
	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/supervisor"
)

// init runs the launcher child of 'btfuse run' before anything else is set
// up: it must install the filter and exec as fast as it can.
func init() {
	if supervisor.IsChild() {
		supervisor.ChildMain()
	}
}

// newCmdChild is the hidden subcommand the launcher child runs as; init
// above takes over before cobra sees it, so this only documents it and
// refuses a direct call.
func newCmdChild() *cobra.Command {
	return &cobra.Command{
		Use:    supervisor.ChildArg,
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cobra.NoArgs(cmd, []string{"internal command of btfuse run"})
		},
	}
}
