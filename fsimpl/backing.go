package fsimpl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// backing is the store of regular-file contents: one file per inode, named
// by the inode number in hex, in a directory reached only through dirfd.
// No descriptor is kept per inode; files are opened on demand.
type backing struct {
	kind  BackingKind // BackingTmpfs or BackingShm
	dirfd int
	dev   uint64 // the device of the backing files
	// mirror: setuid/setgid are mirrored onto backing files (privs.go).
	mirror bool
	path   string // BackingShm: the directory to remove at close
	// userns: the tmpfs belongs to a user namespace of the daemon's own
	// (openUserTmpfs).
	userns bool
	note   string // why BackingAuto fell back, if it did
}

// backingExtraInodes is the slack given to the private tmpfs's nr_inodes
// over Options.Inodes, so that fsimpl's own limit is always met first.
const backingExtraInodes = 16

// openBacking sets up the store opts ask for.
func openBacking(opts Options) (*backing, error) {
	b, err := openBackingKind(opts)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(b.dirfd, &st); err != nil {
		b.close()
		return nil, fmt.Errorf("stat backing directory: %w", err)
	}
	b.dev = st.Dev
	b.mirror = b.mirrorsPrivs()
	return b, nil
}

func openBackingKind(opts Options) (*backing, error) {
	switch opts.Backing {
	case BackingTmpfs:
		return openTmpfsBacking(opts)
	case BackingShm:
		return openShmBacking()
	case BackingAuto:
		b, err := openTmpfsBacking(opts)
		if err == nil {
			return b, nil
		}
		// Without CAP_SYS_ADMIN: the same tmpfs, owned by a user
		// namespace of the daemon's own.
		b, errU := openUserTmpfs(opts)
		if errU == nil {
			return b, nil
		}
		b, err2 := openShmBacking()
		if err2 != nil {
			return nil, errors.Join(err, errU, err2)
		}
		b.note = errU.Error()
		return b, nil
	default:
		return nil, fmt.Errorf("unknown backing kind %d", opts.Backing)
	}
}

// openTmpfsBacking creates a tmpfs with the new mount API and keeps only the
// detached mount's root fd: the mount is never attached to any path and
// disappears when the fd is closed. The kernel enforces the size cap.
func openTmpfsBacking(opts Options) (*backing, error) {
	mfd, err := makeTmpfs(strings.Split(tmpfsOptions(opts), ","))
	if err != nil {
		return nil, err
	}
	return &backing{kind: BackingTmpfs, dirfd: mfd}, nil
}

// makeTmpfs creates a detached tmpfs with the options opts ("key=value")
// and mode 0700, and returns its root (a mount descriptor).
func makeTmpfs(opts []string) (int, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w (private tmpfs backing needs CAP_SYS_ADMIN)", err)
	}
	defer unix.Close(fsfd)
	for _, kv := range append(opts, "mode=0700") {
		k, v, _ := strings.Cut(kv, "=")
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return -1, fmt.Errorf("configure tmpfs %s: %w", kv, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create tmpfs: %w", err)
	}
	// nosuid and nodev, whatever the FUSE mount's flags: a served
	// descriptor is the backing file itself, and fexecve() of it must not
	// honour a setuid bit that fsimpl mirrors there (privs.go). A mount
	// that honours setuid does so on the FUSE mount, where the kernel
	// checks the inode's mode as fsimpl keeps it.
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return mfd, nil
}

// openShmBacking makes a 0700 directory under /dev/shm and opens it. The
// path is visible to others (in /proc/PID/fd) and is removed at close. The
// daemon holds an flock on the directory for its lifetime, so that once it
// is dead the directory can be recognised and removed (SweepShmBacking).
func openShmBacking() (*backing, error) {
	return openShmBackingIn(shmDir)
}

// shmDir is where BackingShm directories are made.
const shmDir = "/dev/shm"

// shmBackingPrefix starts the name of a BackingShm directory:
// btfuse-data-PID-RANDOM. (Directories named btfuse-data-RANDOM are of
// btfuse versions that held no lock: nothing tells whether their daemon
// lives, so they are never swept.)
const shmBackingPrefix = "btfuse-data-"

func openShmBackingIn(parent string) (*backing, error) {
	// Made under a name the sweep ignores, and given its final name only
	// once locked: an unlocked directory with that name is a dead one.
	tmp, err := os.MkdirTemp(parent, ".btfuse-data-new-*")
	if err != nil {
		return nil, fmt.Errorf("make backing directory: %w", err)
	}
	fail := func(err error) (*backing, error) {
		os.Remove(tmp)
		return nil, fmt.Errorf("make backing directory: %w", err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fail(err)
	}
	fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fail(err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return fail(err)
	}
	dir := filepath.Join(parent, shmBackingPrefix+strconv.Itoa(os.Getpid())+"-"+strings.TrimPrefix(filepath.Base(tmp), ".btfuse-data-new-"))
	if err := os.Rename(tmp, dir); err != nil {
		unix.Close(fd)
		return fail(err)
	}
	return &backing{kind: BackingShm, dirfd: fd, path: dir}, nil
}

func (b *backing) describe() string {
	switch b.kind {
	case BackingTmpfs:
		if b.userns {
			return "private tmpfs in a user namespace (detached mount, size enforced by the kernel)"
		}
		return "private tmpfs (detached mount, size enforced by the kernel)"
	default:
		s := "directory " + b.path + " on /dev/shm (size enforced by btfuse on its own writes only)"
		if b.note != "" {
			s += "; private tmpfs unavailable: " + b.note
		}
		return s
	}
}

// close releases the store. For BackingShm the directory and any files
// left in it are removed.
func (b *backing) close() error {
	var errs []error
	if b.kind == BackingShm && b.path != "" {
		if err := os.RemoveAll(b.path); err != nil {
			errs = append(errs, err)
		}
	}
	if b.dirfd >= 0 {
		if err := unix.Close(b.dirfd); err != nil {
			errs = append(errs, err)
		}
		b.dirfd = -1
	}
	return errors.Join(errs...)
}

func backingName(ino Ino) string { return strconv.FormatUint(uint64(ino), 16) }

// create makes the empty backing file of ino. With flags >= 0 it returns
// the new file opened with flags (as open would); otherwise -1.
func (b *backing) create(ino Ino, flags int) (int, unix.Errno) {
	keep := flags >= 0
	if !keep {
		flags = unix.O_RDWR
	}
	flags &^= unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_DIRECTORY
	fd, err := unix.Openat(b.dirfd, backingName(ino),
		flags|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_LARGEFILE, 0o600)
	if err != nil {
		return -1, errnoOf(err)
	}
	if !keep {
		unix.Close(fd)
		return -1, 0
	}
	return fd, 0
}

// open opens the backing file of ino with flags (never O_CREAT).
func (b *backing) open(ino Ino, flags int) (int, unix.Errno) {
	flags &^= unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_DIRECTORY
	for {
		fd, err := unix.Openat(b.dirfd, backingName(ino), flags|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_LARGEFILE, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, errnoOf(err)
		}
		return fd, 0
	}
}

// remove unlinks the backing file of ino.
func (b *backing) remove(ino Ino) {
	_ = unix.Unlinkat(b.dirfd, backingName(ino), 0)
}

// stat reads the backing file's attributes.
func (b *backing) stat(ino Ino, st *unix.Stat_t) unix.Errno {
	return errnoOf(unix.Fstatat(b.dirfd, backingName(ino), st, unix.AT_SYMLINK_NOFOLLOW))
}

// truncate sets the size of ino's backing file through a short-lived
// descriptor.
func (b *backing) truncate(ino Ino, size int64) unix.Errno {
	fd, e := b.open(ino, unix.O_WRONLY)
	if e != 0 {
		return e
	}
	defer unix.Close(fd)
	return ftruncate(fd, size)
}

// utimens sets atime and mtime of ino's backing file; ts entries may be
// UTIME_NOW or UTIME_OMIT.
func (b *backing) utimens(ino Ino, ts [2]unix.Timespec) unix.Errno {
	return errnoOf(unix.UtimesNanoAt(b.dirfd, backingName(ino), ts[:], unix.AT_SYMLINK_NOFOLLOW))
}

// statfs reports the backing filesystem.
func (b *backing) statfs(st *unix.Statfs_t) unix.Errno {
	return errnoOf(unix.Fstatfs(b.dirfd, st))
}

func ftruncate(fd int, size int64) unix.Errno {
	for {
		err := unix.Ftruncate(fd, size)
		if err == unix.EINTR {
			continue
		}
		return errnoOf(err)
	}
}

// ErrnoOf turns a syscall error into a bare errno (0 for nil); anything
// that is not an errno becomes EIO. The doors answer with errnos.
func ErrnoOf(err error) unix.Errno { return errnoOf(err) }

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// BackingDir returns a new close-on-exec descriptor of the backing store's
// directory, for a lane that lets a process open backing files itself
// (BackingName) after OpenAt decided the open: the fast lane, only for
// processes that have the daemon's uid or full root and so could open the
// store's files anyway. The caller owns it.
func (fs *FS) BackingDir() (int, error) {
	return unix.FcntlInt(uintptr(fs.back.dirfd), unix.F_DUPFD_CLOEXEC, 0)
}

// BackingName is the name of ino's backing file in BackingDir.
func BackingName(ino Ino) string { return backingName(ino) }
