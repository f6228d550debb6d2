package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// fdXattrHelper prints a transcript of the fd forms of the xattr calls on a
// descriptor of a file in mount (served under run), also once it is dup2()ed
// to descriptor 0, checked against the path forms (which reach the FUSE
// door under run). system.* is left out: tmpfs keeps POSIX ACLs there and
// btfuse does not support them (EOPNOTSUPP through both doors).
func fdXattrHelper(mount string) []string {
	var b strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	en := func(err error) string {
		if err == nil {
			return "ok"
		}
		if e, ok := err.(unix.Errno); ok {
			return unix.ErrnoName(e)
		}
		return err.Error()
	}
	p := mount + "/f"
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		return []string{err.Error()}
	}
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{"open: " + err.Error()}
	}
	defer unix.Close(fd)
	for _, at := range []int{fd, 0} {
		tag := "fd"
		if at == 0 {
			tag = "fd0"
			if err := unix.Dup2(fd, 0); err != nil {
				return []string{"dup2: " + err.Error()}
			}
		}
		say("%s set user.a: %s", tag, en(unix.Fsetxattr(at, "user.a", []byte("va-"+tag), 0)))
		v := make([]byte, 64)
		n, err := unix.Getxattr(p, "user.a", v)
		say("  path get user.a: %s %q", en(err), v[:max(n, 0)])
		n, err = unix.Fgetxattr(at, "user.a", nil)
		say("  fd size probe: %s %d", en(err), n)
		n, err = unix.Fgetxattr(at, "user.a", v[:2])
		say("  fd get, small buffer: %s", en(err))
		n, err = unix.Fgetxattr(at, "user.a", v)
		say("  fd get: %s %q", en(err), v[:max(n, 0)])
		say("  path set user.b: %s", en(unix.Setxattr(p, "user.b", []byte("vb"), 0)))
		n, err = unix.Fgetxattr(at, "user.b", v)
		say("  fd get user.b: %s %q", en(err), v[:max(n, 0)])
		l := make([]byte, 256)
		n, err = unix.Flistxattr(at, l)
		names := strings.Split(strings.TrimSuffix(string(l[:max(n, 0)]), "\x00"), "\x00")
		sort.Strings(names) // in no particular order
		say("  fd list: %s %q", en(err), names)
		n, err = unix.Flistxattr(at, nil)
		say("  fd list size probe: %s %d", en(err), n)
		_, err = unix.Flistxattr(at, l[:3])
		say("  fd list, small buffer: %s", en(err))
		say("  create existing: %s", en(unix.Fsetxattr(at, "user.a", []byte("x"), unix.XATTR_CREATE)))
		say("  replace missing: %s", en(unix.Fsetxattr(at, "user.zz", []byte("x"), unix.XATTR_REPLACE)))
		say("  bad flags: %s", en(unix.Fsetxattr(at, "user.a", []byte("x"), 4)))
		say("  empty name: %s", en(unix.Fsetxattr(at, "", []byte("x"), 0)))
		say("  long name: %s", en(unix.Fsetxattr(at, "user."+strings.Repeat("n", 300), []byte("x"), 0)))
		say("  huge value: %s", en(unix.Fsetxattr(at, "user.big", make([]byte, 65537), 0)))
		say("  unknown namespace: %s", en(unix.Fsetxattr(at, "foo.bar", []byte("x"), 0)))
		say("  trusted: %s", en(unix.Fsetxattr(at, "trusted.t", []byte("t"), 0)))
		say("  fd remove user.a: %s", en(unix.Fremovexattr(at, "user.a")))
		say("  fd remove again: %s", en(unix.Fremovexattr(at, "user.a")))
		_, err = unix.Getxattr(p, "user.a", v)
		say("  path get removed: %s", en(err))
		for _, name := range []string{"user.b", "trusted.t"} {
			unix.Removexattr(p, name)
		}
	}
	fmt.Print(b.String())
	return nil
}

// TestRunFdXattr: the fd forms of the xattr calls on a served descriptor
// reach the inode, as the path forms do, not the backing file. They used
// to be CONTINUEd, which set xattrs on the backing file where nothing else
// saw them, and let cp --preserve=all set a POSIX ACL there (changing the
// backing file's mode, not the inode's).
func TestRunFdXattr(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	native := exec.Command(os.Args[0])
	native.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=fdxattr", MountEnv+"="+ref)
	want, err := native.CombinedOutput()
	if err != nil {
		t.Fatalf("native run: %v\n%s", err, want)
	}
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=fdxattr")
	if code != 0 {
		t.Fatalf("supervised: exit %d\n%s%s", code, out, errs)
	}
	if out+errs != string(want) {
		t.Errorf("transcripts differ\n%s", outputDiff(string(want), out+errs))
	}
}

// cpPreserveScript copies with cp -a and --preserve=all: the modes must
// survive (cp tries a POSIX ACL with fsetxattr first and falls back to
// fchmod when the filesystem has none).
const cpPreserveScript = `
mkdir -p a/b; echo one > a/f; echo two > a/b/g; chmod 640 a/b/g; chmod 750 a/b
setfattr -n user.k -v v a/f
find a -exec touch -h -d @1500000000 {} +
cp -a a c; cp --preserve=all a/f e
find c e -printf '%p %y %m %s %T@\n' | sort
getfattr --absolute-names -n user.k c/f e | grep user.k
`

func TestRunCpPreserve(t *testing.T) {
	testutil.RequireProgram(t, "setfattr", "getfattr")
	diffScript(t, startSupervised(t), cpPreserveScript)
}

// TestRunChmodReachesStickyCheck pins a kernel quirk. xattr_permission()
// (fs/xattr.c) tests a directory's sticky bit on the inode's cached mode
// before inode_permission(), where FUSE refreshes attributes that were
// invalidated. So after a chmod through run dropped the sticky bit, a
// setxattr through the FUSE door by a non-owner still failed with EPERM
// when only the attributes were invalidated; the dentry is invalidated
// too now (fuseserve's InvalPerms), and the path walk's lookup brings the
// new mode.
func TestRunChmodReachesStickyCheck(t *testing.T) {
	s := startSupervised(t)
	d := s.mount + "/d"
	if err := os.Mkdir(d, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, 1001, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(d, 0o1777); err != nil {
		t.Fatal(err)
	}
	setxattrAs := func(uid int) error {
		ch := make(chan error)
		go func() {
			runtime.LockOSThread() // the thread ends with the goroutine
			unix.Setfsuid(uid)
			ch <- unix.Setxattr(d, "user.x", []byte("1"), 0)
		}()
		return <-ch
	}
	if err := setxattrAs(1000); err != unix.EPERM {
		t.Fatalf("setxattr on a sticky directory by a non-owner: %v, want EPERM", err)
	}
	if code, _, errs := s.run(t, []string{"chmod", "0777", d}); code != 0 {
		t.Fatalf("chmod under run: exit %d: %s", code, errs)
	}
	if err := setxattrAs(1000); err != nil {
		t.Errorf("setxattr through FUSE after the sticky bit was dropped through run: %v", err)
	}
}
