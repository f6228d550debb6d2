package main

import (
	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/daemon"
)

// NewCmdUmount returns "btfuse umount DIR".
func NewCmdUmount() *cobra.Command {
	var cfg daemon.UmountConfig
	cmd := &cobra.Command{
		Use:     "umount DIR",
		Aliases: []string{"unmount"},
		Short:   "Ask the daemon serving DIR to unmount and exit",
		Long: `Ask the btfuse daemon serving DIR to unmount it and exit, and wait until it has.
With no daemon but a FUSE mount at DIR whose daemon died (or hangs), clear
that mount instead.`,
		Args:         oneDir,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Dir = args[0]
			cfg.Stdout, cfg.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return daemon.Umount(cmd.Context(), cfg)
		},
	}
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 0, "how long to wait for the daemon to exit (default 30s)")
	return cmd
}
