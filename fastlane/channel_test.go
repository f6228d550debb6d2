package fastlane_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/daemon"
	"github.com/btfuse/btfuse/fastlane"
	"github.com/btfuse/btfuse/fastlane/preloadlib"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/launcher"
)

// lane is a daemon serving a fresh mount in this process, the way
// 'btfuse mount' does, with the channel's test harness built for it.
type lane struct {
	mount   string // canonical
	runtime string
	harness string
	lib     string // the preload library, once supervisedFast built it
}

// startLane runs a daemon on a fresh directory until the test ends.
func startLane(tb testing.TB) *lane { return startLaneUnder(tb, 0o755) }

// startLaneUnder is startLane with the mount point's parent directory of
// mode topMode.
func startLaneUnder(tb testing.TB, topMode os.FileMode) *lane {
	tb.Helper()
	testutil.RequirePrivileged(tb)
	testutil.RequireProgram(tb, "gcc")
	// The tests count on the channel from the first call.
	tb.Setenv("BTFUSE_FAST_AFTER", "0")
	l := &lane{runtime: filepath.Join(tb.TempDir(), "run"), harness: buildHarness(tb)}
	// Other users reach the mount for the uid-switching cases: every
	// directory above it is searchable (t.TempDir's are 0700).
	top, err := os.MkdirTemp("", "fastlane-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(top) })
	dir := filepath.Join(top, "mnt")
	if err := os.Chmod(top, topMode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if l.mount, err = control.Canonical(dir); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	errw := new(strings.Builder)
	go func() {
		done <- daemon.Run(ctx, daemon.Config{Dir: dir, SizeBytes: 64 << 20, AllowOther: true,
			Stdout: new(strings.Builder), Stderr: errw, RuntimeDir: l.runtime})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			tb.Errorf("daemon did not stop")
		}
		unix.Unmount(dir, unix.MNT_DETACH)
	})
	reg, err := control.Open(l.runtime)
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := reg.Lookup(context.Background(), l.mount); err == nil {
			return l
		}
		select {
		case err := <-done:
			tb.Fatalf("daemon exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal("daemon did not register")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// buildHarness compiles testdata/harness.c with the channel's files
// (preload/channel*.c).
func buildHarness(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "harness")
	srcs, err := filepath.Glob("preload/channel*.c")
	if err != nil || len(srcs) == 0 {
		tb.Fatalf("channel sources: %v, %v", srcs, err)
	}
	views, err := filepath.Glob("preload/view*.c")
	if err != nil || len(views) == 0 {
		tb.Fatalf("view sources: %v, %v", views, err)
	}
	srcs = append(srcs, views...)
	cmd := exec.Command("gcc", append([]string{"-Wall", "-Wextra", "-Werror", "-O2", "-std=gnu11", "-pthread", "-o", bin,
		"testdata/harness.c"}, srcs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build harness: %v\n%s", err, out)
	}
	return bin
}

// supervised runs the harness with args under 'btfuse run' on the lane's
// mount (the daemon's supervisor and channel) and returns what it wrote.
func (l *lane) supervised(tb testing.TB, args ...string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "out")
	code, err := daemon.RunCommand(context.Background(), daemon.CommandConfig{
		Mount: l.mount, Argv: append([]string{l.harness, out}, args...), RuntimeDir: l.runtime, Stderr: os.Stderr})
	if err != nil || code != 0 {
		tb.Fatalf("btfuse run harness %v: status %d, %v", args, code, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// withLib builds the preload library for supervisedFast, until the test
// ends.
func (l *lane) withLib(tb testing.TB) {
	tb.Helper()
	l.lib = filepath.Join(tb.TempDir(), preloadlib.LibName)
	if err := preloadlib.Build(l.lib); err != nil {
		tb.Fatal(err)
	}
}

// supervisedFast is supervised under the filter the fast lane runs with
// (supervisor.BuildFastFilter, which notifies the doorbell): the preload
// library (withLib) is loaded into the harness too, and stays idle there
// (the harness calls its own copy of the channel directly, and the
// library only the path calls under the mount, of which it makes none).
func (l *lane) supervisedFast(tb testing.TB, args ...string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "out")
	code, err := daemon.RunCommand(context.Background(), daemon.CommandConfig{
		Mount: l.mount, Argv: append([]string{l.harness, out}, args...), RuntimeDir: l.runtime, Stderr: os.Stderr,
		FastLibrary: l.lib})
	if err != nil || code != 0 {
		tb.Fatalf("btfuse run harness %v: status %d, %v", args, code, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// plain runs the harness unsupervised: its syscalls go through the FUSE
// mount, and the daemon must refuse its handshake (no seccomp filter
// notifies its credential changes).
func (l *lane) plain(tb testing.TB, args ...string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "out")
	cmd := exec.Command(l.harness, append([]string{out}, args...)...)
	cmd.Env = append(os.Environ(), launcher.MountEnv+"="+l.mount,
		fastlane.SocketEnv+"="+filepath.Join(l.runtime, control.Key(l.mount)+".sock"))
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("harness %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// makeTree populates the mount through the FUSE door: every kind of node
// the stat family reports on, owners and modes that decide access, and
// symlinks the channel must follow or leave to the kernel.
func makeTree(tb testing.TB, m string) []string {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	p := func(s string) string { return filepath.Join(m, s) }
	must(os.WriteFile(p("f"), []byte("hello"), 0o644))
	must(os.WriteFile(p("x"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(p("secret"), []byte("s"), 0o600))
	must(os.WriteFile(p("theirs"), []byte("t"), 0o640))
	must(os.Chown(p("theirs"), 1000, 1000))
	must(os.WriteFile(p("none"), nil, 0))
	must(os.Mkdir(p("d"), 0o755))
	must(os.WriteFile(p("d/g"), []byte("gg"), 0o644))
	must(os.Mkdir(p("priv"), 0o700))
	must(os.WriteFile(p("priv/in"), []byte("i"), 0o644))
	must(os.Mkdir(p("home"), 0o750))
	must(os.Chown(p("home"), 1000, 1000))
	must(os.WriteFile(p("home/mine"), []byte("m"), 0o600))
	must(os.Chown(p("home/mine"), 1000, 1000))
	must(os.Mkdir(p("sticky"), 0o1777))
	must(os.Symlink("f", p("link")))
	must(os.Symlink(p("f"), p("alink")))
	must(os.Symlink("/etc/hostname", p("outlink")))
	must(os.Symlink("nope", p("dangling")))
	must(os.Symlink("loop2", p("loop1")))
	must(os.Symlink("loop1", p("loop2")))
	must(os.Symlink("d", p("dirlink")))
	must(os.Symlink("../f", p("d/up")))
	must(unix.Mkfifo(p("fifo"), 0o644))
	names := []string{"", "f", "x", "secret", "theirs", "none", "d", "d/g", "d/", "priv", "priv/in", "home", "home/mine",
		"sticky", "link", "alink", "outlink", "dangling", "loop1", "dirlink", "dirlink/g", "d/up", "fifo", "missing",
		"f/x", "f/", "d/../f", "./f", "d//g", strings.Repeat("n", 300), "link/", "dangling/"}
	paths := make([]string, 0, 2*len(names))
	for _, n := range names {
		paths = append(paths, m+"/"+n)
	}
	// Relative ones, from the working directory (-C mount).
	for _, n := range []string{"f", "d/g", "link", "missing", "priv/in", "dirlink/g"} {
		paths = append(paths, n)
	}
	return paths
}

// TestChannelStatDifferential compares the stat family through the
// channel with the same calls through the seccomp lane and through the
// FUSE mount, as root and as another user.
func TestChannelStatDifferential(t *testing.T) {
	l := startLane(t)
	paths := makeTree(t, l.mount)
	for _, uid := range []string{"", "1000"} {
		t.Run("uid="+uid, func(t *testing.T) {
			args := []string{"-C", l.mount, "-d", l.mount + "/d"}
			if uid != "" {
				args = append(args, "-u", uid)
			}
			args = append(args, "diff")
			args = append(args, paths...)
			args = append(args, "g", "up", "../f", "../link", ".", "..", "missing", "g/")
			run := lines(l.supervised(t, args...))
			fuse := lines(l.plain(t, args...))
			if len(run) != len(fuse) || len(run) < len(paths) {
				t.Fatalf("%d lines under run, %d through FUSE, for %d paths", len(run), len(fuse), len(paths))
			}
			served, viewed := 0, 0
			for i, r := range run {
				rf := strings.Split(r, "\t")
				ff := strings.Split(fuse[i], "\t")
				if len(rf) != 4 || len(ff) != 4 || rf[0] != ff[0] {
					t.Fatalf("malformed lines %q / %q", r, fuse[i])
				}
				if ff[3] != "pass" {
					t.Errorf("%s: the view answered an unsupervised process: %s", ff[0], ff[3])
				}
				if rf[3] != "pass" {
					viewed++
					if rf[3] != rf[2] {
						t.Errorf("%s: view %s, seccomp lane %s", rf[0], rf[3], rf[2])
					}
				}
				if ff[1] != "pass" {
					t.Errorf("%s: the channel answered an unsupervised process: %s", ff[0], ff[1])
				}
				if rf[2] != ff[2] {
					t.Errorf("%s: seccomp lane %s, FUSE %s", rf[0], rf[2], ff[2])
				}
				if rf[1] == "pass" {
					continue
				}
				served++
				if rf[1] != rf[2] {
					t.Errorf("%s: channel %s, seccomp lane %s", rf[0], rf[1], rf[2])
				}
			}
			// Everything under the mount that needs no kernel walk is
			// the channel's: most lines must have been served.
			if served < len(run)/2 {
				t.Errorf("the channel served %d of %d calls", served, len(run))
			}
			// The metadata view: given at the handshake (made as
			// root), it must answer much of the same as root, and
			// nothing once the process has dropped to another uid
			// (its flag is cleared before setresuid proceeds).
			if uid == "" && viewed < len(run)/4 {
				t.Errorf("the view answered %d of %d calls", viewed, len(run))
			}
			if uid != "" && viewed != 0 {
				t.Errorf("the view answered %d calls after the credential drop", viewed)
			}
			if uid == "" {
				for _, must := range []string{"newfstatat 0 " + l.mount + "/d/g\t", "newfstatat-at 0 g\t", "newfstatat-at 100 ../link\t", "statx-at 0 g\t", "faccessat2-at 4 g\t", "readlinkat-at up\t",
					"newfstatat-at-placed 0 g\t", "newfstatat-at-placed 100 ../link\t", "statx-at-placed 0 g\t", "newfstatat-cwd-placed 0 d/g\t", "statx-cwd-placed 0 d/g\t",
					"statx 0 " + l.mount + "/link\t", "readlinkat 4096 " + l.mount + "/link\t", "faccessat2 4,0 " + l.mount + "/f\t"} {
					found := false
					for _, r := range run {
						if strings.HasPrefix(r, must) {
							found = true
							if strings.Split(r, "\t")[3] == "pass" {
								t.Errorf("%q: the view passed", r)
							}
						}
					}
					if !found {
						t.Errorf("no line %q", must)
					}
				}
			}
			t.Logf("%d calls: the channel answered %d, the view %d", len(run), served, viewed)
			for _, must := range []string{"newfstatat 0 " + l.mount + "/f\t", "newfstatat 0 d/g\t", "statx 100 " + l.mount + "/link\t",
				"faccessat2 2,0 " + l.mount + "/secret\t", "readlinkat 4096 " + l.mount + "/alink\t"} {
				found := false
				for _, r := range run {
					if strings.HasPrefix(r, must) {
						found = true
						if strings.Split(r, "\t")[1] == "pass" {
							t.Errorf("%q: the channel passed", r)
						}
					}
				}
				if !found {
					t.Errorf("no line %q", must)
				}
			}
		})
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestLayoutMatchesC keeps the C copy of the layout (channel_int.h) equal
// to channel.go's.
func TestLayoutMatchesC(t *testing.T) {
	checkCLayout(t, "preload/channel_int.h", fastlane.LayoutForTest(), func(name string) string { return name })
}

// checkCLayout compiles a C program that includes header and prints, for
// each name of want, the value of the C expression cexpr(name), and fails
// t for every name whose value differs from want's: the one check of each
// layout that the library and the daemon both spell out.
func checkCLayout(t *testing.T, header string, want map[string]int64, cexpr func(name string) string) {
	t.Helper()
	testutil.RequireProgram(t, "gcc")
	abs, err := filepath.Abs(header)
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	fmt.Fprintf(&src, "#include %q\n#include <stdio.h>\n#include <string.h>\nint main(void) {\n", abs)
	for name := range want {
		fmt.Fprintf(&src, "\tprintf(\"%s %%ld\\n\", (long)(%s));\n", name, cexpr(name))
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "layout.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "layout")
	if out, err := exec.Command("gcc", "-Wall", "-Wno-unused-function", "-o", bin, filepath.Join(dir, "layout.c"), "-pthread").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, l := range lines(string(out)) {
		var name string
		var v int64
		if _, err := fmt.Sscanf(l, "%s %d", &name, &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got[name] = v
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s: %s %d, Go %d", name, header, g, v)
		}
	}
}

// TestChannelForkVforkThread: a second thread gets a slot of its own; a
// fork child that calls fl_channel_atfork_child handshakes again and is
// served; a vfork child, and a fork child that did not forget its parent's
// channel, pass instead of touching their parent's slot; the parent is
// served before and after.
func TestChannelForkVforkThread(t *testing.T) {
	l := startLane(t)
	if err := os.WriteFile(l.mount+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range lines(l.supervised(t, "fork", l.mount+"/f")) {
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	pass := fmt.Sprint(fastlane.Pass)
	for k, want := range map[string]string{"parent": "0", "errno-kept": "0 4242", "errno-close": "1 4242", "thread": "0", "fork-child": "0 0", "vfork-child": pass,
		"vfork-close":    "0 0",
		"raw-fork-child": pass, "parent-again": "0"} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], want, got)
		}
	}
}

// TestChannelOpsDifferential runs a script of opens (creating, truncating,
// appending, refused), reads and writes on the descriptors, fstat, close,
// mkdir, rename (plain, NOREPLACE, EXCHANGE) and unlink through the
// channel under 'btfuse run', and the same script with plain syscalls in a
// kernel tmpfs: every result and errno must agree, the calls the channel
// serves must have been served by it, and the FUSE mount must show what
// was written.
func TestChannelOpsDifferential(t *testing.T) {
	l := startLane(t)
	native := t.TempDir()
	if err := unix.Mount("tmpfs", native, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(native, unix.MNT_DETACH) })
	run := lines(l.supervised(t, "ops", l.mount))
	kernel := lines(l.plain(t, "ops", native))
	if len(run) != len(kernel) || len(run) < 30 {
		t.Fatalf("%d lines under run, %d natively:\n%s\n--\n%s", len(run), len(kernel), strings.Join(run, "\n"), strings.Join(kernel, "\n"))
	}
	chan_ := map[string]bool{}
	way := map[string]string{}
	for i := range run {
		rf, kf := strings.Split(run[i], "\t"), strings.Split(kernel[i], "\t")
		if len(rf) != 3 || len(kf) != 3 {
			t.Fatalf("malformed %q / %q", run[i], kernel[i])
		}
		if rf[0] != kf[0] || rf[1] != kf[1] {
			t.Errorf("%s = %s (%s) under run, %s = %s natively", rf[0], rf[1], rf[2], kf[0], kf[1])
		}
		chan_[rf[0]] = rf[2] == "chan"
		way[rf[0]] = rf[2]
	}
	for _, op := range []string{"create a excl", "create a excl again", "open a", "open a trunc", "open a append", "open missing",
		"create d/f", "mkdir d", "mkdir d again", "link d/f k", "link d/f k again", "link d k", "link missing", "rename d/f g", "rename g a exchange", "unlink d", "rmdir d", "unlink g",
		"unlink g again", "unlink h open"} {
		if !chan_[op] {
			t.Errorf("%q was not served by the channel", op)
		}
	}
	// The daemon steps aside for directories with Kernel (the library
	// then opens through its trampoline), not Pass (a notification that
	// the seccomp lane would CONTINUE).
	for _, op := range []string{"open d"} {
		if way[op] != "kernel" {
			t.Errorf("%q went %s; directories are the kernel's, and the channel says so", op, way[op])
		}
	}
	for k := range chan_ {
		replaced := strings.HasPrefix(k, "fstat replaced")
		if replaced && chan_[k] {
			t.Errorf("%q: the channel answered for a descriptor dup2 replaced", k)
		}
		if strings.HasPrefix(k, "fstat ") && !replaced && !chan_[k] {
			t.Errorf("%q was not served by the channel", k)
		}
	}
	if ents, err := os.ReadDir(l.mount); err != nil || len(ents) != 0 {
		t.Errorf("mount left with %v, %v; the script removes everything\n%s", ents, err, strings.Join(run, "\n"))
	}
}

// TestChannelHandshakeAfter: the first BTFUSE_FAST_AFTER calls of a
// process pass (a short-lived program never earns a handshake back), the
// next is served.
func TestChannelHandshakeAfter(t *testing.T) {
	l := startLane(t)
	if err := os.WriteFile(l.mount+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BTFUSE_FAST_AFTER", "3")
	pass := fmt.Sprint(fastlane.Pass)
	got := lines(l.supervised(t, "count", "5", l.mount+"/f"))
	if want := []string{pass, pass, pass, "0", "0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("results %v, want %v", got, want)
	}
	// A read-only open counts as any call; an open for writing
	// handshakes at once (its descriptor would otherwise stay on the
	// seccomp lane).
	got = lines(l.supervised(t, "rcount", "3", l.mount+"/f"))
	if want := []string{"pass", pass, pass, "0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("read-only open first: results %v, want %v", got, want)
	}
	got = lines(l.supervised(t, "wcount", "2", l.mount+"/f"))
	if want := []string{"fd", "0", "0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("open for writing first: results %v, want %v", got, want)
	}
}
