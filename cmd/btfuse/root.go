package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/daemon"
)

// NewCmdRoot returns the btfuse command with every subcommand attached.
func NewCmdRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "btfuse",
		Short: "An in-memory filesystem served through FUSE",
		Long: `btfuse keeps a filesystem in memory and serves it at a directory through FUSE.

'btfuse mount DIR' runs the daemon in the foreground; 'btfuse umount DIR'
stops it; 'btfuse run' runs a command with its file syscalls answered by the
daemon directly; 'btfuse status' and 'btfuse trace' show what the daemons do.`,
		Version:       daemon.Version,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the error once
	}
	root.AddCommand(NewCmdMount(), NewCmdUmount(), NewCmdRun(), NewCmdStatus(), NewCmdTrace(), NewCmdInject(), NewCmdBench(), NewCmdInstallHelper(), newCmdChild(), newCmdBenchOp())
	return root
}

// dirArg is the optional DIR argument of status and trace: "" for all
// daemons.
func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}

// oneDir accepts exactly one argument, the directory, and otherwise says how
// the command is used (usage is not printed on errors).
func oneDir(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes one directory, got %d arguments: usage: %s", cmd.Name(), len(args), cmd.UseLine())
	}
	return nil
}
