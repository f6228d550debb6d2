package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// emptyPathHelper prints what the calls that take an empty path with
// AT_EMPTY_PATH (or readlinkat's empty path) report on descriptors that are
// not served ones: O_PATH descriptors of a symlink, a file and a directory,
// the kernel's own through the FUSE door, also moved to descriptor 0, as
// tar does once it has closed its archive on stdin. The transcript must be
// the same on tmpfs and under run.
func emptyPathHelper(mount string) []string {
	var b strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	errno := func(err error) string {
		if err == nil {
			return "ok"
		}
		return unix.ErrnoName(err.(unix.Errno))
	}
	if err := os.WriteFile(mount+"/f", []byte("12345"), 0o644); err != nil {
		return []string{err.Error()}
	}
	if err := os.Symlink("f", mount+"/l"); err != nil {
		return []string{err.Error()}
	}
	if err := os.Mkdir(mount+"/d", 0o755); err != nil {
		return []string{err.Error()}
	}
	for _, name := range []string{"l", "f", "d"} {
		fd, err := unix.Open(mount+"/"+name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return []string{"open O_PATH " + name + ": " + err.Error()}
		}
		var want unix.Stat_t
		unix.Lstat(mount+"/"+name, &want)
		for _, at := range []int{fd, 0} {
			if at == 0 {
				if err := unix.Dup2(fd, 0); err != nil {
					return []string{"dup2: " + err.Error()}
				}
			}
			var st unix.Stat_t
			err := unix.Fstatat(at, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
			say("%s fd%s newfstatat: %s type %o size %d same inode %v", name, map[bool]string{true: "0", false: ""}[at == 0],
				errno(err), st.Mode&unix.S_IFMT, st.Size, st.Ino == want.Ino && st.Dev == want.Dev)
			var stx unix.Statx_t
			err = unix.Statx(at, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx)
			say("  statx: %s type %o size %d", errno(err), stx.Mode&unix.S_IFMT, stx.Size)
			buf := make([]byte, 64)
			n, err := unix.Readlinkat(at, "", buf)
			say("  readlinkat: %s %q", errno(err), buf[:max(n, 0)])
			err = unix.Faccessat2(at, "", unix.R_OK, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
			say("  faccessat2: %s", errno(err))
		}
		unix.Close(fd)
	}
	// A served descriptor (the mode that counts is the inode's, not the
	// backing file's), also as descriptor 0.
	if err := os.Chmod(mount+"/f", 0o755); err != nil {
		return []string{err.Error()}
	}
	fd, err := unix.Open(mount+"/f", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{"open f: " + err.Error()}
	}
	var want unix.Stat_t
	unix.Stat(mount+"/f", &want)
	for _, at := range []int{fd, 0} {
		if at == 0 {
			if err := unix.Dup2(fd, 0); err != nil {
				return []string{"dup2: " + err.Error()}
			}
		}
		var st unix.Stat_t
		err := unix.Fstatat(at, "", &st, unix.AT_EMPTY_PATH)
		say("open f fd%s newfstatat: %s mode %o size %d same inode %v", map[bool]string{true: "0", false: ""}[at == 0],
			errno(err), st.Mode, st.Size, st.Ino == want.Ino && st.Dev == want.Dev)
		say("  faccessat2 X_OK: %s", errno(unix.Faccessat2(at, "", unix.X_OK, unix.AT_EMPTY_PATH)))
	}
	unix.Close(fd)
	fmt.Print(b.String())
	return nil
}

// TestRunEmptyPathOnUnservedFds: a descriptor the kernel opened through the
// FUSE door (O_PATH here) is not served, so an empty-path call on it must
// reach the kernel, which uses the descriptor itself. It used to be turned
// into a path walk of /proc/TID/fd/N plus "/", which followed a symlink and
// demanded a directory: tar's delayed chmod of a symlink failed with
// ENOTDIR once fstat on descriptors 0 to 2 was notified.
func TestRunEmptyPathOnUnservedFds(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	native := exec.Command(os.Args[0])
	native.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=emptypath", MountEnv+"="+ref)
	want, err := native.CombinedOutput()
	if err != nil {
		t.Fatalf("native run: %v\n%s", err, want)
	}
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=emptypath")
	if code != 0 {
		t.Fatalf("supervised: exit %d\n%s%s", code, out, errs)
	}
	if out+errs != string(want) {
		t.Errorf("transcripts differ\n%s", outputDiff(string(want), out+errs))
	}
}
