package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/daemon"
)

// NewCmdMount returns "btfuse mount DIR".
func NewCmdMount() *cobra.Command {
	var (
		size, inodes string
		options      []string
		background   bool
		readyFD      int
		cfg          daemon.Config
		inj          injectFlags
	)
	cmd := &cobra.Command{
		Use:   "mount DIR",
		Short: "Serve a new in-memory filesystem at DIR until stopped",
		Long: `Serve a new, empty in-memory filesystem at DIR through FUSE. The daemon stays in
the foreground; SIGINT, SIGTERM, SIGHUP (its terminal closed), 'btfuse umount
DIR' or an external umount stop it, and it unmounts cleanly before it exits. A
FUSE mount left at DIR by a daemon that died is cleared first.

With -d the daemon runs in the background instead: 'btfuse mount -d' returns
once the mount and its control socket answer (exit status 0), or with the
daemon's error; the daemon ignores SIGHUP and logs to --log FILE (default: a
file under the runtime directory, named in the output; the journal when
started by systemd).

The daemon's log shows on the terminal as plain messages (warnings and errors;
--verbose adds the rest), or goes to --log FILE.

The mount is nosuid,nodev unless -o says otherwise (a comma-separated list;
-o may be repeated, a later option overrides an earlier one):
` + daemon.MountOptionsHelp(),
		Example: `  btfuse mount /mnt/mem
  btfuse mount -d --size 50% --inodes 1M /mnt/mem
  btfuse mount -d -o size=64M,mode=1777 /mnt/mem
  btfuse mount --metrics 127.0.0.1:9560 /mnt/mem
  btfuse mount -o dev,suid /mnt/mem
  btfuse mount --inject 'write:error=EIO:path=/mnt/mem/db/**:when=3+' /mnt/mem`,
		Args:         oneDir,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.SizeBytes, err = daemon.ParseSize(size); err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			if cfg.Inodes, err = daemon.ParseCount(inodes); err != nil {
				return fmt.Errorf("--inodes: %w", err)
			}
			if err := daemon.ParseMountOptions(options, os.Geteuid(), &cfg); err != nil {
				return err
			}
			if cfg.Inject, cfg.InjectSeed, err = inj.load(cmd, cmd.ErrOrStderr(), "mount"); err != nil {
				return err
			}
			cfg.Dir = args[0]
			if background {
				return daemon.Background(cmd.Context(), daemon.BackgroundConfig{
					Args: childArgs(cmd), Dir: args[0], Log: cfg.LogFile, Stdout: cmd.OutOrStdout(),
				})
			}
			if readyFD > 0 {
				// A background daemon (-d): its parent waits on this
				// pipe; nothing else of this process may inherit it.
				unix.CloseOnExec(readyFD)
				cfg.Ready = os.NewFile(uintptr(readyFD), "ready")
				signal.Ignore(syscall.SIGHUP)
			}
			cfg.Stdout, cfg.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return daemon.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&background, "daemon", "d", false, "run in the background; return once the mount answers")
	f.StringVar(&cfg.LogFile, "log", "", "append the daemon's log to `FILE` (default with -d: a file in the runtime directory)")
	f.BoolVarP(&cfg.Verbose, "verbose", "v", false, "log informational messages too, not only warnings and errors")
	f.StringVar(&size, "size", "", "cap on file data: bytes with a k, M, G or T suffix, or a percentage of RAM like 50% (default half of RAM)")
	f.StringVar(&inodes, "inodes", "", "cap on the number of inodes, with an optional k, M or G suffix (default as tmpfs: half the RAM pages)")
	f.StringArrayVarP(&options, "options", "o", nil, "mount options, comma-separated (see above)")
	f.BoolVar(&cfg.AllowOther, "allow-other", false, "let users other than the mounting one use the mount")
	f.BoolVar(&cfg.Debug, "debug", false, "log every FUSE request and reply, and debug messages")
	f.StringVar(&cfg.MetricsAddr, "metrics", "", "serve Prometheus metrics at this host:port under /metrics (e.g. 127.0.0.1:9560)")
	f.IntVar(&readyFD, "ready-fd", 0, "descriptor on which a background daemon tells its parent that it serves")
	f.MarkHidden("ready-fd")
	f.BoolVar(&cfg.Sloppy, "sloppy", false, "ignore unknown mount options (mount -s)")
	f.MarkHidden("sloppy")
	inj.add(cmd)
	return cmd
}

// childArgs are the arguments of the foreground 'btfuse mount' that -d
// starts, but the directory: every flag given but -d, --log and
// --ready-fd (Background adds its own).
func childArgs(cmd *cobra.Command) []string {
	args := []string{"mount"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "daemon", "log", "ready-fd":
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return args
}
