package fsimpl

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// userTmpfsEnv is set in the environment of the helper process that mounts
// a private tmpfs for a daemon without CAP_SYS_ADMIN (openUserTmpfs); its
// value is the tmpfs options, "size=N,nr_inodes=N".
const userTmpfsEnv = "BTFUSE_USERNS_TMPFS"

// The helper runs as this package's init, in any binary that links it
// (btfuse, test binaries): it mounts, sends the mount back and exits
// before anything else runs.
func init() {
	if opts, ok := os.LookupEnv(userTmpfsEnv); ok {
		os.Exit(userTmpfsHelper(opts))
	}
}

// openUserTmpfs gives a daemon without CAP_SYS_ADMIN the same private
// tmpfs root has, size limit included: a helper process (this executable
// again) starts in a new user namespace, where it is root and so may
// create a tmpfs in a new mount namespace; it sends the detached mount
// back over a socket and exits. The tmpfs then belongs to that user
// namespace, which maps only the daemon's own uid and gid (to 0), and so
// the daemon, with its ordinary credentials, can create files in it, and
// the kernel enforces its size (ENOSPC at the byte the limit is reached)
// on every write, through served descriptors too. It needs unprivileged
// user namespaces (user.max_user_namespaces > 0 and no LSM refusing
// them); openBackingKind falls back to /dev/shm otherwise.
func openUserTmpfs(opts Options) (*backing, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("user namespace tmpfs: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("user namespace tmpfs: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "tmpfs-parent")
	theirs := os.NewFile(uintptr(fds[1]), "tmpfs-child")
	defer mine.Close()
	cmd := exec.Command(exe)
	cmd.Args = []string{"btfuse-tmpfs-helper"}
	cmd.Env = []string{userTmpfsEnv + "=" + tmpfsOptions(opts)}
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		Pdeathsig:   unix.SIGKILL,
	}
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return nil, fmt.Errorf("user namespace tmpfs: %w", err)
	}
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, rerr := unix.Recvmsg(fds[0], buf, oob, unix.MSG_CMSG_CLOEXEC)
	werr := cmd.Wait()
	var mfd = -1
	if rerr == nil && oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
			if got, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(got) == 1 {
				mfd = got[0]
			}
		}
	}
	if mfd < 0 {
		msg := strings.TrimSpace(stderr.String())
		if n > 0 {
			msg = string(buf[:n])
		}
		return nil, fmt.Errorf("user namespace tmpfs: %s", errors.Join(errors.New(msg), rerr, werr))
	}
	return &backing{kind: BackingTmpfs, dirfd: mfd, userns: true}, nil
}

// tmpfsOptions are the size and inode limits of the backing tmpfs.
func tmpfsOptions(opts Options) string {
	return "size=" + strconv.FormatUint(opts.SizeBytes, 10) +
		",nr_inodes=" + strconv.FormatUint(min(opts.Inodes, 1<<32-1)+backingExtraInodes, 10)
}

// userTmpfsHelper is the helper process: it creates the tmpfs with opts,
// sends its detached mount on fd 3, and returns the exit status. A failure
// is sent as text instead.
func userTmpfsHelper(opts string) int {
	fail := func(err error) int {
		unix.Sendmsg(3, []byte(err.Error()), nil, nil, 0)
		return 1
	}
	mfd, err := makeTmpfs(strings.Split(opts, ","))
	if err != nil {
		return fail(err)
	}
	if err := unix.Sendmsg(3, []byte{0}, unix.UnixRights(mfd), nil, 0); err != nil {
		return fail(err)
	}
	return 0
}
