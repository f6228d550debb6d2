package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunWriterSeenAtOnce: while a supervised process holds a file open
// for writing, its writes (native, on the backing file) change the size
// that stat shows through the FUSE door at once: the door does not cache
// the attributes of such a file (fsimpl.Attr.Volatile). Before, they were
// cached for the attribute timeout (1 s).
func TestRunWriterSeenAtOnce(t *testing.T) {
	s := startSupervised(t)
	p := filepath.Join(s.mount, "f")
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Size
	}
	size() // the FUSE door caches the attributes
	w := s.startFdProc(t, "W", s.mount, true)
	fd := strings.TrimPrefix(w.do(t, "open f"), "fd ")
	for i := int64(1); i <= 5; i++ {
		if got := w.do(t, "write "+fd+" 100"); got != "ok" {
			t.Fatalf("write: %s", got)
		}
		if got := size(); got != 100*i {
			t.Fatalf("after write %d through run: size through FUSE %d, want %d", i, got, 100*i)
		}
	}
	w.do(t, "close "+fd)
}

// TestRunRedirectedWriterSeenAtOnce: the same, for a writer that the
// target copied to a low descriptor and closed, as a shell's 'cmd > f'
// does with dup2 to 1: the served descriptor's File follows the copy
// (watch.go), so the FUSE door keeps not caching the attributes.
func TestRunRedirectedWriterSeenAtOnce(t *testing.T) {
	s := startSupervised(t)
	p := filepath.Join(s.mount, "f")
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	w := s.startFdProc(t, "W", s.mount, true)
	fd := strings.TrimPrefix(w.do(t, "open f"), "fd ")
	for _, cmd := range []string{"dup2 " + fd + " 7", "close " + fd} {
		if got := w.do(t, cmd); got != "ok" {
			t.Fatalf("%s: %s", cmd, got)
		}
	}
	time.Sleep(50 * time.Millisecond) // several rounds of the watch
	var st unix.Stat_t
	for i := int64(1); i <= 3; i++ {
		if got := w.do(t, "write 7 100"); got != "ok" {
			t.Fatalf("write: %s", got)
		}
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != 100*i {
			t.Fatalf("after write %d through the copy: size through FUSE %d, want %d", i, st.Size, 100*i)
		}
	}
}
