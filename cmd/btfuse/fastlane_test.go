package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/fastlane/preloadlib"
	"github.com/btfuse/btfuse/internal/testutil"
)

// The fast lane's entry side under 'btfuse run': which commands get the
// library, that its calls return what libc's do, that its calls outside
// the mount skip the notification, and that it stays right across fork,
// vfork, exec, threads and signals. TestMain builds the library
// (withFastLibrary); these tests build their C helpers from
// fastlane/testdata.

// cHelper compiles fastlane/testdata/NAME.c into a temporary directory,
// with extra gcc flags, and returns the binary's path.
func cHelper(tb testing.TB, name string, flags ...string) string {
	tb.Helper()
	testutil.RequireProgram(tb, "gcc")
	out := filepath.Join(tb.TempDir(), name)
	src := filepath.Join(filepath.Dir(preloadlib.SourceDir()), "testdata", name+".c")
	args := append(append([]string{"-Wall", "-Wextra", "-Werror", "-pthread", "-o", out}, flags...), src)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		tb.Fatalf("gcc %s: %v\n%s", name, err, b)
	}
	return out
}

// runIn runs 'btfuse run ARGS' with extra environment and returns its exit
// code and output.
func runIn(tb testing.TB, runtime string, env []string, args ...string) (int, string, string) {
	tb.Helper()
	cmd := btfuse(runtime, append([]string{"run"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	return runToEnd(tb, cmd)
}

// withMount is 'btfuse run' arguments for args against dir: "--mount dir"
// and, unless args start with flags of their own that end in "--", "--".
func withMount(dir string, args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], "--") {
		return append([]string{"--mount", dir}, args...)
	}
	return append([]string{"--mount", dir, "--"}, args...)
}

// statusOps returns the counts by op key (status --json) of the daemon
// serving dir.
func statusOps(tb testing.TB, runtime, dir string) map[string]opStatus {
	tb.Helper()
	code, out, errOut := runBtfuse(tb, runtime, "status", dir, "--json")
	if code != 0 {
		tb.Fatalf("status: exit %d: %s", code, errOut)
	}
	var reps []struct {
		Ops map[string]opStatus `json:"ops"`
	}
	if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 1 {
		tb.Fatalf("status --json: %v: %s", err, out)
	}
	return reps[0].Ops
}

// notified returns how many calls of op (a syscall name) the daemon
// serving dir has seen over seccomp: served, left to the kernel or failed.
func notified(tb testing.TB, runtime, dir, op string) uint64 {
	tb.Helper()
	ops := statusOps(tb, runtime, dir)
	o := ops[op]
	return o.Served + o.Passthrough + o.Errors
}

func TestRunFastLanePreload(t *testing.T) {
	testutil.RequirePrivileged(t)
	probe := cHelper(t, "flprobe")
	static := cHelper(t, "flprobe", "-static")
	setuid := filepath.Join(t.TempDir(), "flprobe-setuid")
	testutil.CopyExecutable(t, probe, setuid)
	if err := os.Chmod(setuid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "probe.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec "+probe+" env\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	lib := os.Getenv("BTFUSE_FAST_LIBRARY")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	on := fmt.Sprintf("preload=%s start=0 page=1 wipe=0\n", lib)
	off := "preload= start=0 page=0 wipe=0\n"
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"dynamic", nil, []string{probe, "env"}, on},
		{"no fast lane", nil, []string{"--no-fast-lane", "--", probe, "env"}, off},
		{"appended to LD_PRELOAD", []string{"LD_PRELOAD=libm.so.6"}, []string{probe, "env"}, "preload=libm.so.6:" + lib + " start=0 page=1 wipe=0\n"},
		{"already in LD_PRELOAD", []string{"LD_PRELOAD=" + lib + ":libm.so.6"}, []string{probe, "env"}, "preload=" + lib + ":libm.so.6 start=0 page=1 wipe=0\n"},
		{"static", nil, []string{static, "env"}, off},
		{"setuid", nil, []string{setuid, "env"}, off},
		{"script by a dynamic interpreter", nil, []string{script}, on},
		{"child with a cleared environment", nil, []string{probe, "clearenv"}, off},
		{"no library", []string{"BTFUSE_FAST_LIBRARY=" + filepath.Join(t.TempDir(), "none.so")}, []string{probe, "env"}, off},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIn(t, runtime, tc.env, withMount(dir, tc.args)...)
			if code != 0 || out != tc.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tc.want)
			}
			if said := strings.Contains(errOut, "fast lane off"); said != (tc.name == "no library") {
				t.Errorf("stderr %q: says the lane is off: %v", errOut, said)
			}
		})
	}
}

// TestRunFastLaneCalls: every interposed function returns and sets errno
// as libc does (flcalls' transcript), outside the mount (the trampoline)
// and under it (the channel, then the seccomp lane), against a kernel
// directory run without btfuse.
func TestRunFastLaneCalls(t *testing.T) {
	testutil.RequirePrivileged(t)
	calls := cHelper(t, "flcalls")
	ref := testutil.TmpfsDir(t)
	want, err := exec.Command(calls, ref).Output()
	if err != nil {
		t.Fatalf("flcalls natively: %v", err)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	for _, tc := range []struct {
		name string
		dir  string
		lane []string
	}{
		{"outside the mount", testutil.TmpfsDir(t), nil},
		{"under the mount", filepath.Join(dir, "lane"), nil},
		{"under the mount without the lane", filepath.Join(dir, "nolane"), []string{"--no-fast-lane"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.MkdirAll(tc.dir, 0o755); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"--mount", dir}, tc.lane...), "--", calls, tc.dir)
			code, out, errOut := runIn(t, runtime, nil, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if d := lineDiff(string(want), out); d != "" {
				t.Errorf("differs from the kernel without btfuse (-kernel +run):\n%s", d)
			}
		})
	}
}

// lineDiff lists the lines where a and b differ, or "".
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var d strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&d, "-%s\n+%s\n", x, y)
		}
	}
	return d.String()
}

// TestRunFastLaneProcesses: path calls outside the mount take the
// trampoline (no notification) in the process, in a fork child, after a
// vfork and exec, after an exec, in threads and around a signal handler
// that makes the same call; those under the mount are answered by the
// channel (door fast), in a fork child too; each result is right, no call
// sees EINTR, and a program without the library (static, or one that
// clears its environment) is served by the seccomp lane unchanged.
func TestRunFastLaneProcesses(t *testing.T) {
	testutil.RequirePrivileged(t)
	probe := cHelper(t, "flprobe")
	static := cHelper(t, "flprobe", "-static")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	outside := filepath.Join(t.TempDir(), "f")
	under := filepath.Join(dir, "f")
	beside := filepath.Join(filepath.Dir(dir), "beside")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{outside, under, beside, filepath.Join(dir, "sub", "f")} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const n = 2000
	N := fmt.Sprint(n)
	for _, tc := range []struct {
		name string
		args []string
		want string
		// calls is how many stats the command makes; lane, which lane
		// must answer them: "trampoline" (the kernel, no notification),
		// "channel" (door fast) or "seccomp" (notified). At most a tenth
		// may go elsewhere: the loader's and libc's own calls before the
		// library runs, and a process's first calls under the mount,
		// before its handshake (BTFUSE_FAST_AFTER).
		calls int
		lane  string
		// op is the syscall counted (newfstatat when empty).
		op string
	}{
		{"stat", []string{probe, "stat", N, outside}, "stat ok=2000 errno=0 page=1\n", n, "trampoline", ""},
		{"stat without the lane", []string{"--no-fast-lane", "--", probe, "stat", N, outside}, "stat ok=2000 errno=0 page=0\n", n, "seccomp", ""},
		{"stat under the mount", []string{probe, "stat", N, under}, "stat ok=2000 errno=0 page=1\n", n, "channel", ""},
		{"stat relative", []string{"sh", "-c", "cd " + filepath.Dir(outside) + "/. && exec " + probe + " stat " + N + " ../" + filepath.Base(filepath.Dir(outside)) + "/f"},
			"stat ok=2000 errno=0 page=1\n", n, "trampoline", ""},
		{"under the mount, relative", []string{"sh", "-c", "cd " + dir + " && exec " + probe + " stat " + N + " f"}, "stat ok=2000 errno=0 page=1\n", n, "channel", ""},
		{"out of the mount by dot-dot", []string{probe, "stat", N, dir + "/../beside"}, "stat ok=2000 errno=0 page=1\n", n, "trampoline", ""},
		{"fork", []string{probe, "fork", N, outside}, "child ok=2000 errno=0 page=1\nparent ok=2000 errno=0 page=1\n", 2 * n, "trampoline", ""},
		{"fork under the mount", []string{probe, "fork", N, under}, "child ok=2000 errno=0 page=1\nparent ok=2000 errno=0 page=1\n", 2 * n, "channel", ""},
		{"vfork then exec", []string{probe, "vfork", N, outside}, "stat ok=2000 errno=0 page=1\nvfork child stat=0 exit=0\nparent ok=2000 errno=0 page=1\n", 2 * n, "trampoline", ""},
		{"vfork under the mount", []string{probe, "vfork", N, under}, "stat ok=2000 errno=0 page=1\nvfork child stat=0 exit=0\nparent ok=2000 errno=0 page=1\n", 2 * n, "channel", ""},
		{"exec", []string{probe, "exec", N, outside}, "stat ok=2000 errno=0 page=1\n", n, "trampoline", ""},
		{"threads", []string{probe, "threads", N, outside}, strings.Repeat("thread ok=2000 errno=0 page=1\n", 4), 4 * n, "trampoline", ""},
		{"signals", []string{probe, "signal", N, outside}, "signal eintr=0 other=0 handled=1 handler_ok=1\n", n, "trampoline", ""},
		{"static", []string{static, "stat", N, under}, "stat ok=2000 errno=0 page=0\n", n, "seccomp", ""},
		{"static outside", []string{static, "stat", N, outside}, "stat ok=2000 errno=0 page=0\n", n, "seccomp", ""},
		// Relative to a directory descriptor under the mount (find's
		// fstatat(dirfd, name)): the kernel through the FUSE mount,
		// whose caches answer, not a notification.
		{"stat relative to a directory under the mount", []string{probe, "statat", N, filepath.Join(dir, "sub", "f")}, "statat ok=2000 errno=0 page=1\n", n, "trampoline", ""},
		// Directory opens under the mount: the kernel (the seccomp lane
		// would CONTINUE them), not the channel and then a notification.
		{"opendir under the mount", []string{probe, "opendir", N, filepath.Join(dir, "sub")}, "opendir ok=2000 entries=3 errno=0 page=1\n", n, "trampoline", "openat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := tc.op
			if op == "" {
				op = "newfstatat"
			}
			before := notified(t, runtime, dir, op)
			beforeFast := notified(t, runtime, dir, op+"@fast")
			code, out, errOut := runIn(t, runtime, nil, withMount(dir, tc.args)...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tc.want)
			}
			got := notified(t, runtime, dir, op) - before
			fast := notified(t, runtime, dir, op+"@fast") - beforeFast
			switch tc.lane {
			case "trampoline":
				if got > uint64(tc.calls/10) || fast > uint64(tc.calls/10) {
					t.Errorf("%d %s notified and %d asked of the channel for %d calls the kernel must answer: the trampoline was not used", got, op, fast, tc.calls)
				}
			case "channel":
				if got > uint64(tc.calls/10) || fast < uint64(tc.calls*9/10) {
					t.Errorf("%d newfstatat notified and %d answered by the channel for %d stats under the mount", got, fast, tc.calls)
				}
			case "seccomp":
				if got < uint64(tc.calls) || fast != 0 {
					t.Errorf("%d newfstatat notified (%d by the channel) for %d stats the seccomp lane must see", got, fast, tc.calls)
				}
			}
		})
	}
}

// TestRunFastLaneVforkCredentials: a vfork child runs the library on its
// parent's memory and reads its parent's metadata view without a process
// check (preload.c, fl_token). When such a child changes its credentials
// before it stats, the answer must still be the kernel's for the child's
// new credentials, whether the kernel refuses it (a mount below a
// directory only root may search) or grants it (an allow_other mount on
// an open path).
func TestRunFastLaneVforkCredentials(t *testing.T) {
	testutil.RequirePrivileged(t)
	probe := cHelper(t, "flprobe")
	for _, tc := range []struct {
		name  string
		mode  os.FileMode // of the directory above the mount
		extra []string    // mount options
		errno string      // the kernel's answer to the child
	}{
		{"refused", 0o700, nil, "errno=13 "},
		{"granted", 0o755, []string{"--allow-other"}, "errno=0 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, runtime := mountDirs(t)
			// The test's temporary directories: the one above the
			// mount and the one above that.
			for _, d := range []string{filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
				if err := os.Chmod(d, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			startDaemon(t, runtime, dir, tc.extra...)
			// A directory: the view answers its stat alone (a regular
			// file's also needs its backing file, which the child may
			// not reach, and then it asks the channel).
			d := filepath.Join(dir, "d")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			args := []string{probe, "vforkcred", "2000", d}
			native, err := exec.Command(args[0], args[1:]...).Output()
			want := lastLine(string(native))
			if err != nil || !strings.Contains(want, tc.errno) {
				t.Fatalf("natively: %v, %q; this case needs the kernel to answer %s", err, native, tc.errno)
			}
			before := notified(t, runtime, dir, "newfstatat@fast")
			code, out, errOut := runIn(t, runtime, nil, withMount(dir, args)...)
			if code != 0 || lastLine(out) != want {
				t.Errorf("under run: exit %d, stdout %q, stderr %q; the kernel: %q", code, out, errOut, want)
			}
			// The parent's stats came from the view, so the child had one to read.
			if fast := notified(t, runtime, dir, "newfstatat@fast") - before; fast < 1800 {
				t.Errorf("only %d stats answered by the fast lane: the parent did not use the view", fast)
			}
		})
	}
}
