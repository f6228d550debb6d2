package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// capsTree is the fixture of capsHelper: path, uid, gid, mode (with type
// bits for directories), made by root in each door's directory.
var capsTree = []struct {
	path     string
	uid, gid int
	mode     os.FileMode
}{
	{"o", 1000, 1000, os.ModeDir | 0o755},
	{"o/secret", 1000, 1000, 0o600},
	{"o/pub", 1000, 1000, 0o644},
	{"r", 0, 0, os.ModeDir | 0o755},
	{"r/secret", 0, 0, 0o600},
	{"r/f", 0, 0, 0o644},
	{"r/sg", 0, 2000, 0o644},
	{"r/sg2", 0, 2000, os.ModeSetgid | 0o644},
	{"r/d700", 0, 0, os.ModeDir | 0o700},
	{"r/d700/x", 0, 0, 0o644},
	{"s", 0, 0, os.ModeDir | os.ModeSticky | 0o777},
	{"s/victim", 1002, 1002, 0o644},
	{"w", 0, 0, os.ModeDir | 0o777},
	{"w/su", 0, 0, os.ModeSetuid | 0o777},
}

// makeCapsTree builds capsTree under dir, with a trusted.* xattr on r/f.
func makeCapsTree(t *testing.T, dir string) {
	t.Helper()
	for _, e := range capsTree {
		p := filepath.Join(dir, e.path)
		var err error
		if e.mode.IsDir() {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, []byte("data"), 0o600)
		}
		if err == nil {
			err = os.Chown(p, e.uid, e.gid)
		}
		if err == nil {
			err = os.Chmod(p, e.mode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Setxattr(filepath.Join(dir, "r/f"), "trusted.t", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
}

// capsHelper runs in the target: every operation whose answer depends on
// a capability, once, on capsTree under dir; it prints one line per
// operation with its errno and what it changed.
func capsHelper(dir string) []string {
	var out strings.Builder
	res := func(what string, err error, extra ...any) {
		s := "ok"
		var e unix.Errno
		if errors.As(err, &e) {
			s = unix.ErrnoName(e)
		} else if err != nil {
			s = err.Error()
		}
		fmt.Fprintf(&out, "%s: %s", what, s)
		for _, x := range extra {
			fmt.Fprintf(&out, " %v", x)
		}
		out.WriteString("\n")
	}
	p := func(rel string) string { return filepath.Join(dir, rel) }
	open := func(what, rel string, flags int) {
		fd, err := unix.Open(p(rel), flags|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
		res(what, err)
	}
	stat := func(rel string) string {
		var st unix.Stat_t
		if err := unix.Lstat(p(rel), &st); err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d:%d %o", st.Uid, st.Gid, st.Mode)
	}
	statRes := func(rel string) {
		var st unix.Stat_t
		err := unix.Lstat(p(rel), &st)
		res("stat "+rel, err, st.Uid, st.Gid, fmt.Sprintf("%o", st.Mode))
	}
	statRes("o/pub")
	open("read o/secret", "o/secret", unix.O_RDONLY)
	open("write o/secret", "o/secret", unix.O_WRONLY|unix.O_APPEND)
	open("read r/secret", "r/secret", unix.O_RDONLY)
	open("write r/secret", "r/secret", unix.O_WRONLY|unix.O_APPEND)
	open("create o/new", "o/new", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	open("create r/new", "r/new", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	statRes("r/d700/x")
	open("create r/d700/new", "r/d700/new", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	res("access r/secret R_OK", unix.Access(p("r/secret"), unix.R_OK))
	res("eaccess r/secret R_OK", unix.Faccessat2(unix.AT_FDCWD, p("r/secret"), unix.R_OK, unix.AT_EACCESS))
	res("chmod r/f", unix.Chmod(p("r/f"), 0o640), stat("r/f"))
	ts := []unix.Timespec{{Sec: 1000}, {Sec: 2000}}
	res("utimens r/f", unix.UtimesNanoAt(unix.AT_FDCWD, p("r/f"), ts, 0))
	res("chmod r/sg g+s", unix.Chmod(p("r/sg"), 0o2755), stat("r/sg"))
	res("chown o/pub 0:0", unix.Chown(p("o/pub"), 0, 0), stat("o/pub"))
	res("chgrp r/f 2000", unix.Chown(p("r/f"), -1, 2000), stat("r/f"))
	res("chgrp r/sg2 0", unix.Chown(p("r/sg2"), -1, 0), stat("r/sg2"))
	res("unlink s/victim", unix.Unlink(p("s/victim")))
	res("mknod w/null", unix.Mknod(p("w/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	open("trunc w/su", "w/su", unix.O_WRONLY|unix.O_TRUNC)
	statRes("w/su")
	buf := make([]byte, 256)
	_, err := unix.Getxattr(p("r/f"), "trusted.t", buf)
	res("getxattr r/f trusted.t", err)
	res("setxattr w/su trusted.u", unix.Setxattr(p("w/su"), "trusted.u", []byte("u"), 0))
	n, err := unix.Listxattr(p("r/f"), buf)
	if err != nil {
		n = 0
	}
	res("listxattr r/f", err, strings.ReplaceAll(string(buf[:n]), "\x00", ","))
	fmt.Print(out.String())
	return nil
}

// TestCapabilities: what a process may do depends on its effective
// capabilities (and, over another user's files, on its user namespace),
// not on uid 0: root without capabilities is refused another user's
// files, a user holding CAP_DAC_OVERRIDE or CAP_FOWNER is not, root in a
// user namespace has no power over files whose owner is not mapped.
// tmpfs, the FUSE door and run must agree.
func TestCapabilities(t *testing.T) {
	testutil.RequireProgram(t, "setpriv", "unshare")
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	bin := t.TempDir()
	for _, d := range []string{filepath.Dir(ref), filepath.Dir(bin), bin} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	helper := filepath.Join(bin, "helper")
	testutil.CopyExecutable(t, os.Args[0], helper)
	user := func(caps ...string) []string {
		argv := []string{"setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"}
		if len(caps) > 0 {
			c := "+" + strings.Join(caps, ",+")
			argv = append(argv, "--inh-caps", c, "--ambient-caps", c)
		}
		return argv
	}
	tests := []struct {
		name string
		wrap []string
		// want are lines the tmpfs transcript must hold: the scenario
		// does what it is meant to.
		want []string
		// foreign: the helper runs in another user namespace, where run
		// steps aside (serves nothing); elsewhere it serves.
		foreign bool
	}{
		{"root without capabilities", []string{"setpriv", "--inh-caps=-all", "--bounding-set=-all"},
			[]string{"read o/secret: EACCES", "write o/secret: EACCES", "create o/new: EACCES", "chown o/pub 0:0: EPERM 1000:1000 100644", "chgrp r/sg2 0: ok 0:0 100644"}, false},
		{"user", user(), []string{"read r/secret: EACCES", "create r/new: EACCES", "chmod r/f: EPERM 0:0 100644"}, false},
		{"user with CAP_DAC_OVERRIDE", user("dac_override"),
			[]string{"read r/secret: ok", "write r/secret: ok", "create r/new: ok", "access r/secret R_OK: EACCES", "eaccess r/secret R_OK: ok"}, false},
		{"user with CAP_DAC_READ_SEARCH", user("dac_read_search"),
			[]string{"read r/secret: ok", "write r/secret: EACCES", "create r/d700/new: EACCES"}, false},
		{"user with CAP_FOWNER", user("fowner"), []string{"chmod r/f: ok 0:0 100640", "unlink s/victim: ok"}, false},
		{"user with CAP_FOWNER,CAP_FSETID", user("fowner", "fsetid"), []string{"chmod r/sg g+s: ok 0:2000 102755"}, false},
		{"user with CAP_CHOWN", user("chown"), []string{"chown o/pub 0:0: ok 0:0 100644", "chgrp r/sg2 0: EPERM 0:2000 102644"}, false},
		{"user with CAP_CHOWN,CAP_FOWNER", user("chown", "fowner"), []string{"chgrp r/sg2 0: ok 0:0 100644"}, false},
		{"user with CAP_CHOWN,CAP_FSETID", user("chown", "fsetid"), []string{"chgrp r/sg2 0: ok 0:0 102644"}, false},
		{"root", nil, []string{"chgrp r/sg2 0: ok 0:0 102644", "listxattr r/f: ok trusted.t,"}, false},
		{"user with CAP_MKNOD", user("mknod"), []string{"mknod w/null: ok"}, false},
		{"user with CAP_SYS_ADMIN", user("sys_admin"), []string{"getxattr r/f trusted.t: ok", "listxattr r/f: ok trusted.t,"}, false},
		{"root in a user namespace", []string{"unshare", "--user", "--map-root-user"},
			[]string{"read o/secret: EACCES", "chown o/pub 0:0: EPERM 65534:65534 100644", "trunc w/su: ok", "stat w/su: ok 0 0 100777", "listxattr r/f: ok "}, true},
		{"user as root of its own user namespace", append(user(), "unshare", "--user", "--map-root-user"),
			[]string{"read o/secret: ok", "read r/secret: EACCES"}, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv := append(append([]string{}, tc.wrap...), helper)
			env := "BTFUSE_TEST_HELPER=caps"
			var got [3]string
			for j, door := range []string{"tmpfs", "fuse", "run"} {
				sub := fmt.Sprintf("%d-%s", i, door)
				dir := filepath.Join(ref, sub)
				if door != "tmpfs" {
					dir = filepath.Join(s.Dir, sub)
				}
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				makeCapsTree(t, dir)
				if door == "run" {
					served0, _, errs0, _ := s.sup.StatsSnapshot()
					code, out, errs := s.run(t, argv, env, MountEnv+"="+filepath.Join(s.mount, sub))
					if code != 0 {
						t.Fatalf("run: exit %d\n%s%s", code, out, errs)
					}
					served, _, errs1, _ := s.sup.StatsSnapshot()
					if n := served + errs1 - served0 - errs0; (n == 0) != tc.foreign {
						t.Errorf("run answered %d calls itself", n)
					}
					got[j] = out
					continue
				}
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = append(os.Environ(), env, MountEnv+"="+dir)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%s: %v\n%s", door, err, out)
				}
				got[j] = string(out)
			}
			for _, w := range tc.want {
				if !strings.Contains(got[0], w+"\n") {
					t.Errorf("tmpfs transcript lacks %q:\n%s", w, got[0])
				}
			}
			for j, door := range []string{"fuse", "run"} {
				if d := posixtest.Diff("tmpfs", strings.Split(got[0], "\n"), door, strings.Split(got[j+1], "\n")); d != "" {
					t.Errorf("%s differs from tmpfs:\n%s", door, d)
				}
			}
		})
	}
}

// unshareScript reads another user's 0600 file, enters a new user
// namespace (unshare(CLONE_NEWUSER), from a single-threaded process) and
// reads it again.
const unshareScript = `import ctypes, errno, sys
def read(p):
    try:
        open(p).read()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
p = sys.argv[1] + "/o/secret"
print("before", read(p))
if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:
    sys.exit("unshare: " + errno.errorcode[ctypes.get_errno()])
print("after", read(p))
`

// TestCapabilitiesAfterUnshare: root's capabilities over another user's
// file end when it enters a new user namespace, where that user is not
// mapped; the credentials run read before must not outlive the unshare.
func TestCapabilitiesAfterUnshare(t *testing.T) {
	testutil.RequireProgram(t, "python3")
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	const want = "before ok\nafter EACCES\n"
	for _, door := range []string{"tmpfs", "fuse", "run"} {
		dir := filepath.Join(ref, door)
		if door != "tmpfs" {
			dir = filepath.Join(s.Dir, door)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		makeCapsTree(t, dir)
		argv := []string{"python3", "-c", unshareScript, dir}
		var got string
		if door == "run" {
			code, out, errs := s.run(t, argv)
			if code != 0 {
				t.Fatalf("run: exit %d\n%s%s", code, out, errs)
			}
			got = out
		} else {
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", door, err, out)
			}
			got = string(out)
		}
		if got != want {
			t.Errorf("%s: %q, want %q", door, got, want)
		}
	}
}

// TestAccessCred mirrors access_override_creds(): access(2) without
// AT_EACCESS checks with the real ids, the permitted capabilities for a
// real uid 0 and none otherwise.
func TestAccessCred(t *testing.T) {
	eff, prm := fsimpl.CapDacReadSearch, fsimpl.AllCaps
	cred := func(ruid, fsuid uint32) *taskCred {
		return &taskCred{fs: fsimpl.Cred{UID: fsuid, GID: fsuid, Caps: eff}, ruid: ruid, rgid: ruid, capPrm: prm}
	}
	for _, tc := range []struct {
		name  string
		cr    *taskCred
		flags int
		uid   uint32
		caps  fsimpl.Caps
	}{
		{"root", cred(0, 0), 0, 0, prm},
		{"user with ambient capabilities", cred(1000, 1000), 0, 1000, 0},
		{"setuid root program", cred(1000, 0), 0, 1000, 0},
		{"AT_EACCESS", cred(1000, 0), unix.AT_EACCESS, 0, eff},
	} {
		if c := tc.cr.accessCred(tc.flags); c.UID != tc.uid || c.GID != tc.uid || c.Caps != tc.caps {
			t.Errorf("%s: uid %d gid %d caps %#x, want uid %d caps %#x", tc.name, c.UID, c.GID, c.Caps, tc.uid, tc.caps)
		}
	}
}
