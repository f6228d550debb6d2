package preloadlib

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"preload.c", "channel_stub.c"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	got, err := Sources(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("without channel.c: %v, %v; want both files", got, err)
	}
	for _, f := range []string{"channel.c", "channel_slots.c"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	got, err = Sources(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if filepath.Base(f) == "channel_stub.c" {
			t.Errorf("channel_stub.c built beside channel.c: %v", got)
		}
	}
	if len(got) != 3 {
		t.Errorf("with channel.c: %v, want preload.c, channel.c and channel_slots.c", got)
	}
}
