package preloadlib

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSources: every C file of the directory, nothing else.
func TestSources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"preload.c", "channel.c", "channel.h", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	got, err := Sources(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("Sources: %v, %v; want preload.c and channel.c", got, err)
	}
	if _, err := Sources(t.TempDir()); err == nil {
		t.Errorf("Sources of an empty directory: no error")
	}
}
