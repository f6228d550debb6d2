package fastlane

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/btfuse/btfuse/supervisor"
)

// TestTrampolineAddrMatches: the library maps its trampoline page where
// the filter looks for it.
func TestTrampolineAddrMatches(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(SourceDir(), "trampoline.h"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#define FL_TRAMPOLINE_ADDR (0x[0-9a-fA-F]+)UL$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("trampoline.h defines no FL_TRAMPOLINE_ADDR")
	}
	addr, err := strconv.ParseUint(string(m[1]), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	if addr != supervisor.TrampolinePage {
		t.Errorf("trampoline.h has %#x, supervisor.TrampolinePage %#x", addr, uint64(supervisor.TrampolinePage))
	}
}

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
