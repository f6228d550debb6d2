package shmring

import (
	"os"
	"testing"

	"github.com/btfuse/btfuse/event"
)

// Ops of system calls, registered as a package that notifies them would
// (package supervisor is not linked into these tests).
var (
	opOpenat = event.Register("openat")
	opStat   = event.Register("stat")
)

// mustDir makes a directory for segments on tmpfs (as /dev/shm is), removed
// at the end of the test.
func mustDir(tb testing.TB) string {
	tb.Helper()
	base := DefaultDir
	if _, err := os.Stat(base); err != nil {
		base = ""
	}
	dir, err := os.MkdirTemp(base, "shmring-test-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// mustWriter creates a segment with slots records in a fresh directory.
func mustWriter(tb testing.TB, slots int) *Writer {
	tb.Helper()
	w, err := Create(mustDir(tb), "test", "/mnt/test", slots)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	return w
}

func mustOpen(tb testing.TB, path string) *Segment {
	tb.Helper()
	s, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
