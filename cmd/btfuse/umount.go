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
A busy mount is detached lazily. With no daemon but a FUSE mount at DIR whose
daemon died (or hangs), clear that mount instead.

--lazy detaches the mount at once (umount -l): it disappears from the tree,
and its daemon goes on serving the files still open under it until the last
is closed, then exits. --force is for a daemon that hangs: it aborts the
mount's FUSE connection through fusectl (/sys/fs/fuse/connections) without
asking the daemon, and detaches the mount; every process waiting on it gets
ENOTCONN, and the contents are lost.`,
		Example: `  btfuse umount /mnt/mem
  btfuse umount --lazy /mnt/mem
  btfuse umount --force /mnt/mem`,
		Args:         oneDir,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Dir = args[0]
			cfg.Stdout, cfg.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return daemon.Umount(cmd.Context(), cfg)
		},
	}
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 0, "how long to wait for the daemon to exit (default 30s)")
	cmd.Flags().BoolVarP(&cfg.Lazy, "lazy", "l", false, "detach now; the daemon exits when the last file under DIR is closed")
	cmd.Flags().BoolVarP(&cfg.Force, "force", "f", false, "abort a hung daemon's FUSE connection and detach the mount (contents are lost)")
	return cmd
}
