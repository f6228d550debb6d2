package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/daemon"
)

// NewCmdMount returns "btfuse mount DIR".
func NewCmdMount() *cobra.Command {
	var (
		size, inodes string
		options      []string
		cfg          daemon.Config
		inj          injectFlags
	)
	cmd := &cobra.Command{
		Use:   "mount DIR",
		Short: "Serve a new in-memory filesystem at DIR until stopped",
		Long: `Serve a new, empty in-memory filesystem at DIR through FUSE. The daemon stays in
the foreground; SIGINT, SIGTERM, SIGHUP (its terminal closed), 'btfuse umount
DIR' or an external umount stop it, and it unmounts cleanly before it exits. A FUSE mount left at DIR by a
daemon that died is cleared first.

The mount is nosuid,nodev unless -o says otherwise (a comma-separated list;
-o may be repeated, a later option overrides an earlier one):
` + daemon.MountOptionsHelp(),
		Example: `  btfuse mount /mnt/mem
  btfuse mount --size 50% --inodes 1M /mnt/mem
  btfuse mount --metrics 127.0.0.1:9560 /mnt/mem
  btfuse mount -o dev,suid /mnt/mem
  btfuse mount --inject 'write:error=EIO:path=/mnt/mem/db/**:when=3+' /mnt/mem`,
		Args:         oneDir,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := daemon.ParseMountOptions(options, os.Geteuid(), &cfg); err != nil {
				return err
			}
			var err error
			if cfg.SizeBytes, err = daemon.ParseSize(size); err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			if cfg.Inodes, err = daemon.ParseCount(inodes); err != nil {
				return fmt.Errorf("--inodes: %w", err)
			}
			if cfg.Inject, cfg.InjectSeed, err = inj.load(cmd, cmd.ErrOrStderr(), "mount"); err != nil {
				return err
			}
			cfg.Dir = args[0]
			cfg.Stdout, cfg.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return daemon.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&size, "size", "", "cap on file data: bytes with a k, M, G or T suffix, or a percentage of RAM like 50% (default half of RAM)")
	f.StringVar(&inodes, "inodes", "", "cap on the number of inodes, with an optional k, M or G suffix (default as tmpfs: half the RAM pages)")
	f.StringArrayVarP(&options, "options", "o", nil, "mount options, comma-separated: dev, suid (root only), nodev, nosuid")
	f.BoolVar(&cfg.AllowOther, "allow-other", false, "let users other than the mounting one use the mount")
	f.BoolVar(&cfg.Debug, "debug", false, "log every FUSE request and reply, and debug messages")
	f.StringVar(&cfg.MetricsAddr, "metrics", "", "serve Prometheus metrics at this host:port under /metrics (e.g. 127.0.0.1:9560)")
	inj.add(cmd)
	return cmd
}
