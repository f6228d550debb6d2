package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// accessACL is the value of system.posix_acl_access for a directory that
// gives its owner rwx, user uid nothing, and its group, the mask and
// others r-x (include/uapi/linux/posix_acl_xattr.h: version 2, then
// entries of tag, permissions and id, sorted by tag).
func accessACL(uid uint32) []byte {
	const (
		userObj, user, groupObj, mask, other = 0x01, 0x02, 0x04, 0x10, 0x20
		noID                                 = 0xffffffff
	)
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{userObj, 7, noID}, {user, 0, uid}, {groupObj, 5, noID}, {mask, 5, noID}, {other, 5, noID}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// TestRunAncestorSearch: a caller who may not search a directory above
// the mount gets EACCES from the kernel for every path that walks through
// it (an absolute path, or one relative to a directory above the mount),
// but not for a path relative to a working directory inside the mount.
// flreach runs as uid 1000 (group 2000) through the FUSE mount without
// btfuse run, and through btfuse run with and without the fast lane, from
// three working directories, while the directory above the mount (gate)
// changes mode, owner and ACL under the running daemon; every transcript
// must be the FUSE mount's.
func TestRunAncestorSearch(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "setpriv")
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The probe must be readable by the user: out of the 0700 TempDir.
	probe := filepath.Join(base, "flreach")
	testutil.CopyExecutable(t, cHelper(t, "flreach"), probe)
	gate := filepath.Join(base, "gate")
	mnt := filepath.Join(gate, "mnt")
	runtime := filepath.Join(base, "run")
	for _, d := range []string{gate, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, runtime, mnt, "--allow-other")
	pub := filepath.Join(mnt, "pub")
	if err := os.Mkdir(pub, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pub, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pub, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	asUser := []string{"setpriv", "--reuid=1000", "--regid=1000", "--groups=2000", probe}
	lanes := []struct {
		name string
		pre  []string // before asUser; nil: the FUSE mount, no btfuse run
	}{
		{"fuse", nil},
		{"run", []string{os.Args[0], "run", "--mount", mnt, "--"}},
		{"run --no-fast-lane", []string{os.Args[0], "run", "--mount", mnt, "--no-fast-lane", "--"}},
	}
	cwds := []struct{ name, dir, rel string }{
		{"cwd in the mount", mnt, "pub"},
		{"cwd above the gate", base, "gate/mnt/pub"},
		{"cwd at the gate", gate, "mnt/pub"},
	}
	tag := 0
	for _, gc := range []struct {
		name     string
		mode     os.FileMode
		uid, gid int
		acl      bool
		denied   bool // the user may not search gate
	}{
		{"0755", 0o755, 0, 0, false, false},
		{"0700 root", 0o700, 0, 0, false, true},
		{"0710 group member", 0o710, 0, 2000, false, false},
		{"0710 other group", 0o710, 0, 3000, false, true},
		{"0700 the user's", 0o700, 1000, 1000, false, false},
		{"ACL denies the user", 0o755, 0, 0, true, true},
	} {
		t.Run(gc.name, func(t *testing.T) {
			if err := os.Chown(gate, gc.uid, gc.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(gate, gc.mode); err != nil {
				t.Fatal(err)
			}
			if gc.acl {
				if err := unix.Setxattr(gate, "system.posix_acl_access", accessACL(1000), 0); err != nil {
					t.Fatalf("set ACL: %v", err)
				}
			} else if err := unix.Removexattr(gate, "system.posix_acl_access"); err != nil && err != unix.ENODATA {
				t.Fatalf("remove ACL: %v", err)
			}
			for _, cw := range cwds {
				t.Run(cw.name, func(t *testing.T) {
					var want string
					for _, l := range lanes {
						tag++
						args := append(append(append([]string{}, l.pre...), asUser...), fmt.Sprint(tag),
							filepath.Join(pub, "file"), pub, cw.rel)
						cmd := exec.Command(args[0], args[1:]...)
						if l.pre != nil {
							cmd = btfuse(runtime, args[1:]...)
						}
						cmd.Dir = cw.dir
						code, out, errOut := runToEnd(t, cmd)
						if code != 0 {
							t.Fatalf("%s: exit %d: %s", l.name, code, errOut)
						}
						if l.pre == nil {
							want = out
							// Guard the premise: the absolute paths
							// fail exactly when the gate is shut.
							if shut := strings.Contains(out, "2 stat     -1 EACCES"); shut != gc.denied {
								t.Fatalf("through the FUSE mount, denied %v, want %v:\n%s", shut, gc.denied, out)
							}
							continue
						}
						if d := lineDiff(want, out); d != "" {
							t.Errorf("%s differs from the FUSE mount (-fuse +%s):\n%s", l.name, l.name, d)
						}
					}
				})
			}
		})
	}
}
