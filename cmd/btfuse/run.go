package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/daemon"
)

// NewCmdRun returns "btfuse run [--mount DIR] -- CMD [ARGS]".
func NewCmdRun() *cobra.Command {
	var mount string
	var allowOther, noFastLane bool
	var inj injectFlags
	cmd := &cobra.Command{
		Use:   "run [--mount DIR] -- CMD [ARGS]",
		Short: "Run CMD with its file syscalls under DIR answered by btfuse directly",
		Long: `Run CMD supervised: a seccomp filter stops its file syscalls, and those that
touch DIR are answered from the filesystem's memory; everything else runs
natively. CMD finds the directory in $BTFUSE_MOUNT. If 'btfuse mount DIR'
runs, CMD is handed to that daemon; otherwise
run mounts a new filesystem at DIR (a fresh temporary directory, printed, when
--mount is absent) for CMD's lifetime; only its owner may use that mount unless
--allow-other is given, as with 'btfuse mount'. The exit status is CMD's
(128+N when a signal N killed it).

If the daemon CMD was handed to dies (or is stopped) while CMD runs, run
takes CMD over and leaves every call to the kernel: CMD goes on, its calls
under DIR fail as on any dead FUSE mount (ENOTCONN), and run says so on
stderr and exits with status 125 (CMD's own status is in the message).
btfuse run is not a security sandbox.

Dynamically linked commands that are not setuid, setgid or file-capable also
get the fast lane: the library libbtfuse-fast.so (built next to btfuse by
'just build', or named by BTFUSE_FAST_LIBRARY) is preloaded into them and
their children, makes their path calls outside DIR without a notification,
and asks the daemon over shared memory for those under it. Static and Go
programs, and programs that clear their environment, stay on the seccomp
lane, which also serves whatever the library leaves to it. --no-fast-lane
turns the lane off, and so does --inject: fault rules see the calls the
seccomp lane is notified of.`,
		Example: `  btfuse run -- sh -c 'echo hi > "$BTFUSE_MOUNT/f" && cat "$BTFUSE_MOUNT/f"'
  btfuse run --inject 'write:error=EPERM:path=*/123.txt' -- sh -c 'echo 345 > 123.txt'
  btfuse run --mount /mnt/mem -- make -C /mnt/mem/src`,
		Args:         commandArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, seed, err := inj.load(cmd, cmd.ErrOrStderr(), "run")
			if err != nil {
				return err
			}
			cfg := daemon.CommandConfig{
				Mount:      mount,
				Argv:       args,
				Stderr:     cmd.ErrOrStderr(),
				AllowOther: allowOther,
				Inject:     rules,
				NoFastLane: noFastLane,
				// For tests and installs that keep the library elsewhere.
				FastLibrary: os.Getenv("BTFUSE_FAST_LIBRARY"),
			}
			if seed != nil {
				cfg.InjectSeed = *seed
			}
			code, err := daemon.RunCommand(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			os.Exit(code)
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&mount, "mount", "", "directory of the filesystem (default: a fresh temporary directory)")
	cmd.Flags().BoolVar(&allowOther, "allow-other", false, "let users other than the mounting one use a mount that run makes itself")
	cmd.Flags().BoolVar(&noFastLane, "no-fast-lane", false, "run CMD on the seccomp lane alone, without the preload library")
	inj.add(cmd)
	return cmd
}

// commandArgs requires a command to run, and says how to give one.
func commandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return errors.New(`no command to run: usage: btfuse run [--mount DIR] -- CMD [ARGS] (for example: btfuse run -- sh -c 'ls "$BTFUSE_MOUNT"')`)
	}
	return nil
}
