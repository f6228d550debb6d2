package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// helperName is the name under which mount(8) runs btfuse for a mount of
// type fuse.btfuse (mount -t fuse.btfuse, or an /etc/fstab line): it looks
// for /sbin/mount.fuse.btfuse (or in /sbin/fs.d, /sbin/fs) and calls
//
//	mount.fuse.btfuse SPEC DIR [-sfnv] [-N NAMESPACE] [-o OPTIONS] [-t fuse.btfuse]
//
// (mount(8), EXTERNAL HELPERS). btfuse answers to that name through a
// symbolic link (btfuse install-helper), and then runs
// 'btfuse mount -d -o OPTIONS,fsname=SPEC DIR': mount(8) waits for its
// helper, so the helper returns once the mount serves.
const helperName = "mount.fuse.btfuse"

// Exit statuses of a mount helper, as mount(8) documents its own.
const (
	helperUsage   = 1  // incorrect invocation or permissions
	helperFailure = 32 // mount failure
)

// helperArgs turns a mount helper's arguments into btfuse's; fake is set
// for -f (do everything but mount: nothing here).
func helperArgs(args []string) (btfuse []string, fake bool, err error) {
	var pos, opts []string
	var verbose, sloppy bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		// A cluster of one-letter flags, the last of which may take a
		// value, attached (-oro) or as the next argument.
		for j := 1; j < len(a); j++ {
			c := a[j]
			if c == 'o' || c == 't' || c == 'N' {
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return nil, false, fmt.Errorf("-%c needs a value", c)
					}
					i++
					v = args[i]
				}
				switch c {
				case 'o':
					opts = append(opts, v)
				case 't':
					if v != "fuse.btfuse" && v != "btfuse" {
						return nil, false, fmt.Errorf("-t %s: this helper mounts fuse.btfuse only", v)
					}
				case 'N':
					return nil, false, errors.New("-N (mount in another namespace) is not supported: run mount(8) inside that namespace")
				}
				break
			}
			switch c {
			case 's':
				sloppy = true
			case 'f':
				fake = true
			case 'n': // no /etc/mtab: btfuse never writes it
			case 'v':
				verbose = true
			default:
				return nil, false, fmt.Errorf("unknown flag -%c", c)
			}
		}
	}
	if len(pos) != 2 {
		return nil, false, fmt.Errorf("want SPEC and DIR, got %d arguments: usage: %s SPEC DIR [-sfnv] [-o OPTIONS]", len(pos), helperName)
	}
	btfuse = []string{"mount", "--daemon"}
	for _, o := range opts {
		btfuse = append(btfuse, "-o", o)
	}
	// SPEC (the first field of an fstab line) names the filesystem in
	// the mount table, as for other FUSE filesystems; "none" leaves the
	// default.
	if spec := pos[0]; spec != "none" && spec != "" {
		btfuse = append(btfuse, "-o", "fsname="+spec)
	}
	if verbose {
		btfuse = append(btfuse, "--verbose")
	}
	if sloppy {
		btfuse = append(btfuse, "--sloppy")
	}
	return append(btfuse, "--", pos[1]), fake, nil
}

// isHelper reports whether btfuse was started as the mount helper.
func isHelper(argv0 string) bool { return filepath.Base(argv0) == helperName }

// runHelper is main for the mount helper; it returns the exit status.
func runHelper(root *cobra.Command, args []string) int {
	bargs, fake, err := helperArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", helperName, err)
		return helperUsage
	}
	if fake {
		return 0
	}
	root.SetArgs(bargs)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", helperName, err)
		return helperFailure
	}
	return 0
}

// NewCmdInstallHelper returns "btfuse install-helper".
func NewCmdInstallHelper() *cobra.Command {
	var dir string
	var remove bool
	cmd := &cobra.Command{
		Use:   "install-helper",
		Short: "Install (or remove) the mount.fuse.btfuse link that mount(8) and /etc/fstab use",
		Long: `Make DIR/mount.fuse.btfuse a symbolic link to this btfuse binary, so that
'mount -t fuse.btfuse btfuse /mnt/mem -o size=1G' and /etc/fstab lines of type
fuse.btfuse work: mount(8) runs the helper, which starts 'btfuse mount -d'.
mount(8) looks for helpers in /sbin, /sbin/fs.d and /sbin/fs. --remove
removes the link, and only a link.`,
		Example: `  btfuse install-helper
  btfuse install-helper --remove`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			link := filepath.Join(dir, helperName)
			if remove {
				fi, err := os.Lstat(link)
				if err != nil {
					return fmt.Errorf("remove %s: %w", link, err)
				}
				if fi.Mode()&os.ModeSymlink == 0 {
					return fmt.Errorf("%s is not a symbolic link: not removing it", link)
				}
				if err := os.Remove(link); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "btfuse: removed %s\n", link)
				return nil
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the btfuse binary: %w", err)
			}
			if exe, err = filepath.EvalSymlinks(exe); err != nil {
				return fmt.Errorf("find the btfuse binary: %w", err)
			}
			if cur, err := os.Readlink(link); err == nil && cur == exe {
				fmt.Fprintf(cmd.OutOrStdout(), "btfuse: %s already links to %s\n", link, exe)
				return nil
			} else if _, lerr := os.Lstat(link); lerr == nil {
				return fmt.Errorf("%s exists (%s): remove it first, or pass --dir", link, describeLink(link))
			}
			if err := os.Symlink(exe, link); err != nil {
				return fmt.Errorf("install the mount helper: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "btfuse: %s -> %s\n", link, exe)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "/sbin", "directory to put the link in")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the link instead")
	return cmd
}

func describeLink(p string) string {
	if t, err := os.Readlink(p); err == nil {
		return "a link to " + t
	}
	return "not a symbolic link"
}
