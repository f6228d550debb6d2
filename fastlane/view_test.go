package fastlane_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fastlane"
)

// TestViewLayoutMatchesC compares every number of preload/view.h with
// fsimpl/view_layout.go's, and the dentry hash of one name in both
// languages ("hash").
func TestViewLayoutMatchesC(t *testing.T) {
	checkCLayout(t, "preload/view.h", fastlane.ViewLayoutForTest(), func(name string) string {
		if name == "hash" {
			return `flv_hash(7, "some-name", 9)`
		}
		return name
	})
}

// TestViewCredentialDrop: the mount lies under a 0700 directory, which
// root may search and uid 1000 may not. The harness handshakes as root
// (and is given the view), then drops to uid 1000: from then on every
// absolute path under the mount is EACCES by the kernel's rules, and the
// view, which cannot know the process's credentials, must not answer.
func TestViewCredentialDrop(t *testing.T) {
	l := startLaneUnder(t, 0o700)
	paths := makeTree(t, l.mount)
	for _, uid := range []string{"", "1000"} {
		t.Run("uid="+uid, func(t *testing.T) {
			args := []string{"-C", l.mount}
			if uid != "" {
				args = append(args, "-u", uid)
			}
			args = append(append(args, "diff"), paths...)
			viewed, eacces := 0, 0
			for _, r := range lines(l.supervised(t, args...)) {
				f := strings.Split(r, "\t")
				if len(f) != 4 {
					t.Fatalf("malformed line %q", r)
				}
				if strings.HasPrefix(f[2], "r=-13") {
					eacces++
				}
				if f[3] == "pass" {
					continue
				}
				viewed++
				if f[3] != f[2] {
					t.Errorf("%s: view %s, seccomp lane %s", f[0], f[3], f[2])
				}
			}
			switch {
			case uid == "" && viewed == 0:
				t.Error("the view answered nothing as root")
			case uid != "" && (viewed != 0 || eacces == 0):
				t.Errorf("after the drop: the view answered %d calls, the kernel refused %d", viewed, eacces)
			}
		})
	}
}

// TestViewRefreshWhileSessionsEnd: a change of the mount table anywhere
// on the machine makes the daemon set every session's hdrViewWalk again,
// while sessions end and unmap their segments: a refresh must never touch
// a released segment (it did: a panic in the daemon, or a race under
// -race).
func TestViewRefreshWhileSessionsEnd(t *testing.T) {
	l := startLane(t)
	if err := os.WriteFile(filepath.Join(l.mount, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	churn := t.TempDir()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Mount("tmpfs", churn, "tmpfs", 0, "size=1m"); err == nil {
				unix.Unmount(churn, unix.MNT_DETACH)
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for i := 0; i < 40; i++ {
		out := l.supervised(t, "count", "3", l.mount+"/f")
		if !strings.Contains(out, "\n0\n0\n0\n") {
			t.Fatalf("round %d: %q", i, out)
		}
	}
}
