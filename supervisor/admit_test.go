package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestOwnerOnlyMount: on a mount without allow_other, the kernel refuses
// every other user (fs/fuse/dir.c:fuse_allow_current_process()), so a
// supervised process that became uid 1000 must be refused too; it read
// root's files under run while the FUSE door said Permission denied.
func TestOwnerOnlyMount(t *testing.T) {
	s := startSupervised(t, testutil.OwnerOnly())
	if err := os.WriteFile(filepath.Join(s.Dir, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.RequireProgram(t, "setpriv")
	const setpriv = "setpriv"
	argv := []string{setpriv, "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/cat", filepath.Join(s.mount, "f")}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("fuse: uid 1000 on an owner-only mount: %v %s", err, out)
	}
	code, o, e := s.run(t, argv)
	if code == 0 || !strings.Contains(o+e, "Permission denied") {
		t.Errorf("run: uid 1000 on an owner-only mount: exit %d %s%s", code, o, e)
	}
	// The owner still gets served.
	if code, o, e := s.run(t, []string{"/bin/cat", filepath.Join(s.mount, "f")}); code != 0 || o != "data" {
		t.Errorf("run: the owner: exit %d %q %s", code, o, e)
	}
	if err := exec.Command(setpriv, "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/true").Run(); err != nil {
		t.Fatalf("setpriv itself fails: %v", err)
	}
}

func TestParseAdmission(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want fuseAdmission
		ok   bool
	}{
		{"rw,user_id=0,group_id=0,default_permissions,allow_other", fuseAdmission{allowOther: true}, true},
		{"rw,user_id=1000,group_id=100,default_permissions", fuseAdmission{uid: 1000, gid: 100}, true},
		{"rw,user_id=1000", fuseAdmission{}, false},
		{"rw,user_id=x,group_id=0", fuseAdmission{}, false},
	} {
		got, err := parseAdmission(tc.opts)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("parseAdmission(%q) = %+v, %v; want %+v, ok %v", tc.opts, got, err, tc.want, tc.ok)
		}
	}
	owner := fuseAdmission{uid: 1000, gid: 100}
	for _, tc := range []struct {
		ids  [6]uint32
		want bool
	}{
		{[6]uint32{1000, 1000, 1000, 100, 100, 100}, true},
		{[6]uint32{1000, 1000, 0, 100, 100, 100}, false}, // saved uid root
		{[6]uint32{1000, 1000, 1000, 100, 0, 100}, false},
	} {
		if got := owner.admits(&taskCred{ids: tc.ids}); got != tc.want {
			t.Errorf("admits(%v) = %v, want %v", tc.ids, got, tc.want)
		}
	}
}
