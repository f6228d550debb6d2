package fastlane

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/fastlane/preloadlib"
	"github.com/btfuse/btfuse/internal/testutil"
)

// buildLib builds the library into a temporary directory.
func buildLib(tb testing.TB) string {
	tb.Helper()
	testutil.RequireProgram(tb, "gcc")
	lib := filepath.Join(tb.TempDir(), preloadlib.LibName)
	if err := preloadlib.Build(lib); err != nil {
		tb.Fatal(err)
	}
	return lib
}

// buildHelper compiles testdata/NAME.c.
func buildHelper(tb testing.TB, name string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), name)
	if b, err := exec.Command("gcc", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out, filepath.Join("testdata", name+".c")).CombinedOutput(); err != nil {
		tb.Fatalf("gcc %s: %v\n%s", name, err, b)
	}
	return out
}

// TestPreloadCalls: with the library preloaded and no filter, each
// interposed function returns and sets errno as libc does, whichever way
// the library routes the call: every path outside the mount (the
// trampoline page), every path under it (the channel stub, then the
// ordinary syscall), or the library inert (no BTFUSE_MOUNT).
func TestPreloadCalls(t *testing.T) {
	lib := buildLib(t)
	calls := buildHelper(t, "flcalls")
	run := func(env ...string) string {
		dir := t.TempDir()
		cmd := exec.Command(calls, dir)
		cmd.Env = append(os.Environ(), env...)
		for i, e := range env {
			cmd.Env[len(cmd.Env)-len(env)+i] = strings.ReplaceAll(e, "$DIR", dir)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("flcalls %v: %v", env, err)
		}
		return string(out)
	}
	want := run()
	if !strings.Contains(want, "open missing                 -1 ENOENT") {
		t.Fatalf("flcalls' transcript lacks its first failure:\n%s", want)
	}
	for name, env := range map[string][]string{
		"outside":  {"LD_PRELOAD=" + lib, "BTFUSE_MOUNT=/nonexistent/mount"},
		"under":    {"LD_PRELOAD=" + lib, "BTFUSE_MOUNT=$DIR"},
		"under /":  {"LD_PRELOAD=" + lib, "BTFUSE_MOUNT=/"},
		"inactive": {"LD_PRELOAD=" + lib},
	} {
		t.Run(name, func(t *testing.T) {
			if got := run(env...); got != want {
				t.Errorf("with the library:\n%s\nwithout:\n%s", got, want)
			}
		})
	}
}

// TestPreloadTrampolinePage: the library maps the page where the filter
// expects it when BTFUSE_MOUNT names an absolute path, and not otherwise;
// not in the constructor but at the first call that goes through it (a
// stat outside the mount), so that a program that makes none does not pay
// for the page. Its ownership token page (MADV_WIPEONFORK) waits for a
// handshake, which none of these processes makes.
func TestPreloadTrampolinePage(t *testing.T) {
	lib := buildLib(t)
	probe := buildHelper(t, "flprobe")
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"lane", []string{"LD_PRELOAD=" + lib, "BTFUSE_MOUNT=/mnt/x"}, "start=0 page=1 wipe=0"},
		// A channel to handshake on, never used: no token page.
		{"lane with a socket", []string{"LD_PRELOAD=" + lib, "BTFUSE_MOUNT=/mnt/x", "BTFUSE_FAST_SOCKET=/nonexistent"}, "start=0 page=1 wipe=0"},
		{"no mount", []string{"LD_PRELOAD=" + lib}, "start=0 page=0 wipe=0"},
		{"relative mount", []string{"LD_PRELOAD=" + lib, "BTFUSE_MOUNT=mnt"}, "start=0 page=0 wipe=0"},
		{"without the library", []string{"BTFUSE_MOUNT=/mnt/x"}, "start=0 page=0 wipe=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(probe, "env")
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("%s: %v; want %s", out, err, tc.want)
			}
		})
	}
}
