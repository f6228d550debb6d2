package supervisor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/fsimpl"
)

// TestSearchable: which directories above the mount a walk passes
// depends on where it starts, and each one it passes must let the caller
// search it (owner, group or other class, or a capability); one with an
// ACL or that could not be read leaves the answer to the kernel.
func TestSearchable(t *testing.T) {
	v := &mountView{path: "/a/b/m", above: []ancestor{
		{path: "/", mode: 0o755, known: true},
		{path: "/a", mode: 0o700, known: true},
		{path: "/a/b", mode: 0o710, gid: 2000, known: true},
	}}
	user := &fsimpl.Cred{UID: 1000, GID: 1000}
	member := &fsimpl.Cred{UID: 1000, GID: 1000, Groups: []uint32{2000}}
	for _, tc := range []struct {
		name  string
		cr    *fsimpl.Cred
		start string
		want  bool
	}{
		{"absolute, shut /a", member, "/", false},
		{"absolute, the owner (uid 0) without capabilities", &fsimpl.Cred{}, "/", true},
		{"absolute, a capability", &fsimpl.Cred{UID: 1000, Caps: fsimpl.CapDacReadSearch}, "/", true},
		{"from /a/b as a member", member, "/a/b", true},
		{"from /a/b as another user", user, "/a/b", false},
		{"from /a as a member", member, "/a", false},
		{"from inside the mount", user, "/a/b/m/x", true},
		{"from the mount root", user, "/a/b/m", true},
	} {
		if got := v.searchable(tc.cr, tc.start); got != tc.want {
			t.Errorf("%s: searchable %v, want %v", tc.name, got, tc.want)
		}
	}
	// A setuid root program run by uid 1000: access(2) walks with the
	// real ids, so the view cannot answer for both.
	suid := &taskCred{fs: fsimpl.Cred{Caps: fsimpl.AllCaps}, ruid: 1000, rgid: 1000, capPrm: fsimpl.AllCaps}
	if v.reachable(suid, "/") {
		t.Error("setuid root run by uid 1000: reachable through shut /a")
	}
	if root := (&taskCred{fs: fsimpl.Cred{Caps: fsimpl.AllCaps}, capPrm: fsimpl.AllCaps}); !v.reachable(root, "/") {
		t.Error("root: not reachable")
	}
	v.above[2].known = false // an ACL on /a/b
	if v.searchable(member, "/a/b") {
		t.Error("an ancestor with an ACL: served, want left to the kernel")
	}
	v.aboveOpen = true
	if !v.searchable(user, "/") {
		t.Error("open view: not searchable")
	}
}

// TestAboveMount reads the directories above a path, top first, and calls
// them open only when every one has o+x.
func TestAboveMount(t *testing.T) {
	base := t.TempDir() // 0700
	m := filepath.Join(base, "x", "m")
	if err := os.MkdirAll(m, 0o755); err != nil {
		t.Fatal(err)
	}
	as, open := aboveMount(m)
	if len(as) == 0 || as[0].path != "/" || as[len(as)-1].path != filepath.Join(base, "x") {
		t.Fatalf("ancestors %+v", as)
	}
	if open {
		t.Errorf("%s is 0700: open", base)
	}
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, open := aboveMount(m); !open {
		t.Errorf("all o+x: not open")
	}
}
