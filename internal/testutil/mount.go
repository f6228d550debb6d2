package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/mountinfo"
)

// MountOption adjusts a btfuse mount made by MountBtfuse.
type MountOption func(*mountConfig)

type mountConfig struct {
	fs        fsimpl.Options
	serve     fuseserve.Options
	ownerOnly bool
}

// WithFSOptions sets the options of the filesystem.
func WithFSOptions(o fsimpl.Options) MountOption {
	return func(c *mountConfig) { c.fs = o }
}

// WithServeOptions lets f adjust the FUSE door's options. AllowOther stays
// on whatever f does (tests switch uid), unless OwnerOnly is given.
func WithServeOptions(f func(*fuseserve.Options)) MountOption {
	return func(c *mountConfig) { f(&c.serve) }
}

// OwnerOnly mounts without allow_other: only the mounting user may use the
// mount.
func OwnerOnly() MountOption {
	return func(c *mountConfig) { c.ownerOnly = true }
}

// NoPassthrough serves the mount in close-to-open mode: file data crosses
// the FUSE wire instead of going through FUSE passthrough.
func NoPassthrough() MountOption {
	return WithServeOptions(func(o *fuseserve.Options) { o.DisablePassthrough = true })
}

// Btfuse is a filesystem served through the FUSE door for one test.
type Btfuse struct {
	Dir    string
	FS     *fsimpl.FS
	Server *fuseserve.Server
}

// MountBtfuse creates an empty btfuse filesystem, mounts it with allow_other
// on a fresh temporary directory whose parent any user may traverse, and
// returns the mount point. When the test ends, pass or fail, it is
// unmounted (detached if a plain unmount fails, its connection aborted if
// serving does not stop) and the filesystem closed.
func MountBtfuse(tb testing.TB, opts ...MountOption) string {
	tb.Helper()
	return StartBtfuse(tb, opts...).Dir
}

// StartBtfuse is MountBtfuse that also hands out the filesystem and server.
func StartBtfuse(tb testing.TB, opts ...MountOption) *Btfuse {
	tb.Helper()
	RequirePrivileged(tb)
	var cfg mountConfig
	for _, o := range opts {
		o(&cfg)
	}
	cfg.serve.AllowOther = !cfg.ownerOnly
	fs, err := fsimpl.New(cfg.fs)
	if err != nil {
		tb.Fatalf("fsimpl.New: %v", err)
	}
	dir := tb.TempDir() // removed after the cleanup below has unmounted it
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		fs.Close()
		tb.Fatalf("make %s traversable: %v", filepath.Dir(dir), err)
	}
	srv, err := fuseserve.Mount(dir, fs, cfg.serve)
	if err != nil {
		fs.Close()
		tb.Fatalf("mount btfuse: %v", err)
	}
	var st unix.Stat_t
	statErr := unix.Stat(dir, &st)
	tb.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			tb.Errorf("unmount btfuse %s: %v; detaching", dir, err)
			if err := srv.Detach(); err != nil {
				tb.Errorf("%v", err)
			}
		}
		stopped := make(chan struct{})
		go func() { srv.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			tb.Errorf("btfuse at %s still serving 30s after unmount; aborting the connection", dir)
			if statErr == nil {
				if err := abortConnection(st.Dev); err != nil {
					tb.Errorf("abort: %v", err)
				}
			}
			<-stopped
		}
		if err := fs.Close(); err != nil {
			tb.Errorf("close btfuse filesystem: %v", err)
		}
	})
	return &Btfuse{Dir: dir, FS: fs, Server: srv}
}

// abortConnection aborts the FUSE connection of the mount with device dev
// through fusectl, which releases every process stuck on it.
func abortConnection(dev uint64) error {
	const ctl = "/sys/fs/fuse/connections"
	if _, err := os.Stat(ctl + "/" + fmt.Sprint(unix.Minor(dev))); err != nil {
		if err := unix.Mount("none", ctl, "fusectl", 0, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mount fusectl: %w", err)
		}
	}
	return os.WriteFile(fmt.Sprintf("%s/%d/abort", ctl, unix.Minor(dev)), []byte("1"), 0)
}

// MountFlags returns which of nosuid and nodev the topmost mount at dir
// carries, as "nosuid,nodev", "nodev" and so on, from /proc/self/mountinfo.
func MountFlags(tb testing.TB, dir string) string {
	tb.Helper()
	ms, err := mountinfo.Read()
	if err != nil {
		tb.Fatal(err)
	}
	m := mountinfo.At(ms, dir)
	if m == nil {
		tb.Fatalf("%s is not mounted", dir)
	}
	var flags []string
	for _, o := range []string{"nosuid", "nodev"} {
		if m.HasOpt(o) {
			flags = append(flags, o)
		}
	}
	return strings.Join(flags, ",")
}
