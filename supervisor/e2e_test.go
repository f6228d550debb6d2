package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/launcher"
)

// TestMain makes the test binary its own supervised helper (and, through
// launch_child.c's constructor, its own launcher child): no filter is ever
// installed in the go test process.
func TestMain(m *testing.M) {
	if h := os.Getenv("BTFUSE_TEST_HELPER"); h != "" {
		os.Exit(runHelper(h, os.Getenv(MountEnv)))
	}
	os.Exit(m.Run())
}

// supervised is a filesystem mounted through FUSE with a supervisor on it.
type supervised struct {
	*testutil.Btfuse
	mount string
	sup   *Supervisor
	// fastLib, when set, is the fast lane's library: run preloads it into
	// dynamically linked targets under BuildFastFilter, as 'btfuse run'
	// does (withFastLane).
	fastLib string
}

func startSupervised(t testing.TB, opts ...testutil.MountOption) *supervised {
	t.Helper()
	b := testutil.StartBtfuse(t, opts...)
	mount, err := control.Canonical(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := New(b.FS, Options{Mount: mount, Receivers: benchReceivers()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close) // runs before the unmount registered by StartBtfuse
	return &supervised{Btfuse: b, mount: mount, sup: sup}
}

// serve is startServed's serve for s.sup: the returned wait fails the
// test if Serve fails or does not return within a minute of being waited
// for (after the target exited). It serves with a notification board, as
// a daemon serves a 'btfuse run' attached to it, so that the tests and
// BenchmarkDoors include the board's stores.
func (s *supervised) serve(t testing.TB) func(fd, base, size int) func() {
	return func(fd, base, size int) func() {
		board, err := NewBoard()
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() {
			served <- s.sup.ServeWith(fd, ServeOptions{Base: base, Size: size, Board: board})
			board.Close()
		}()
		return func() {
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("Serve did not return after the target exited")
			}
		}
	}
}

// run runs argv under the supervisor and returns its status and output.
func (s *supervised) run(t testing.TB, argv []string, env ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "err"))
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	opts := launcher.Options{
		Self:   []string{os.Args[0]},
		Stdout: out, Stderr: errf,
		Env: append(append(os.Environ(), MountEnv+"="+s.mount), env...),
	}
	if s.fastLib != "" {
		opts.Preload, opts.Build = s.fastLib, BuildFastFilter
	}
	tg, wait := startServed(t, argv, opts, s.serve(t))
	timer := time.AfterFunc(2*time.Minute, func() { tg.Cmd.Process.Kill() }) // hang guard
	code := tg.Wait()
	timer.Stop()
	wait()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

// The target inherits neither the FUSE device (go-fuse opens it without
// O_CLOEXEC when root mounts directly) nor a seccomp listener: holding
// either, it could read requests meant for the daemon, or keep its own
// notifications waiting forever after the daemon died.
func TestRunInheritsNoDaemonFds(t *testing.T) {
	s := startSupervised(t)
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=fds")
	if code != 0 || out != "" {
		t.Errorf("exit %d; the target holds daemon descriptors:\n%s%s", code, out, errs)
	}
}

// TestRunSpeculationAsNative: the filter leaves the command's speculation
// controls as they are outside run (SECCOMP_FILTER_FLAG_SPEC_ALLOW): where
// the kernel runs with spec_store_bypass_disable=seccomp (or
// spectre_v2_user=seccomp), a filter would otherwise force those
// mitigations on, which slows all of the command's code, not only its
// syscalls. This machine is "vulnerable" (no mitigation to force), so here
// the test only checks that nothing changes.
func TestRunSpeculationAsNative(t *testing.T) {
	s := startSupervised(t)
	const script = `grep -E '^Speculation' /proc/self/status`
	native, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		testutil.SkipOrFail(t, fmt.Sprintf("/proc/self/status has no Speculation lines (%v)", err))
	}
	code, out, errs := s.run(t, []string{"sh", "-c", script})
	if code != 0 || out != string(native) {
		t.Errorf("under run: exit %d, %q (stderr %q); natively %q", code, out, errs, native)
	}
}

func TestRunEchoCat(t *testing.T) {
	s := startSupervised(t)
	code, out, errs := s.run(t, []string{"sh", "-c", `echo hi > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f"`})
	if code != 0 || out != "hi\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if served, _, _, _ := s.sup.StatsSnapshot(); served < 2 {
		t.Errorf("served %d syscalls, want at least the two opens", served)
	}
	// The other door sees it at once.
	if b, err := os.ReadFile(filepath.Join(s.Dir, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("through FUSE: %q, %v", b, err)
	}
}

func TestRunTwoDoors(t *testing.T) {
	s := startSupervised(t)
	p := filepath.Join(s.mount, "f")
	if err := os.WriteFile(p, []byte("from fuse\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil { // cache the attributes in the FUSE door
		t.Fatal(err)
	}
	code, out, errs := s.run(t, []string{"sh", "-c", `cat "$BTFUSE_MOUNT/f"; printf 'a longer text from run\n' > "$BTFUSE_MOUNT/f"`})
	if code != 0 || out != "from fuse\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// The writer has closed: the FUSE door must show the new size now.
	s.Server.FlushInvalidations()
	deadline := time.Now().Add(time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil && string(b) == "a longer text from run\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("through FUSE after a write through run: %q, %v", b, err)
		}
		time.Sleep(watchPeriod)
		s.Server.FlushInvalidations()
	}
}

// script exercises shells and coreutils; its output must be the same on a
// tmpfs directory run natively and in the mount run supervised.
const script = `set -e
cd "${D:?}"
echo a > f; echo b >> f; ls nope 2> err || true; cat f; wc -l < err
mkdir -p a/b; echo x > a/b/c; cp -r a a2; mv a2 a3; ls -1R
find . | sort
cat a3/b/c; stat -c '%s %F %a %h' a3/b/c f a
ln -s c a/b/l; readlink a/b/l; cat a/b/l; test -L a/b/l && echo islink
ln a/b/c a/b/hard; stat -c %h a/b/c
rm a/b/l; rm -r a3; ls
chmod 600 f; stat -c %a f; truncate -s 3 f; stat -c %s f
test -e nope || echo noexist; test -d a && echo isdir; test -f f && echo isfile
python3 -c "open('p','w').write('py'); print(open('p').read())"
tar cf t.tar a; mkdir x; tar xf t.tar -C x; find x | sort
du -s --apparent-size --block-size=1 a/b/c
umask 077; echo s > secret; stat -c %a secret; umask 022
mkdir -m 700 m; stat -c %a m; rmdir m; test -e m || echo rmdir-ok
touch -d @1000000000 f; stat -c %Y f; touch -h -d @2000000000 a/b/c; stat -c %Y a/b/c
ln -sf f sl; ln -sf p sl; readlink sl; mv f a/f2; ls a; mv a/f2 f
chown 1:2 f; stat -c '%u %g' f; chgrp 0 f; stat -c '%u %g' f
mkdir -p q/r/s; rm -rf q; ls
mv a a-renamed; ls; mv a-renamed a
stat -f -c '%l' .
`

func TestRunShellDifferential(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "D="+ref)
	want, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reference run: %v\n%s", err, want)
	}
	code, out, errs := s.run(t, []string{"sh", "-c", script}, "D="+s.mount)
	if code != 0 {
		t.Fatalf("supervised run: exit %d\n%s\n%s", code, out, errs)
	}
	if out+errs != string(want) {
		t.Errorf("outputs differ\nnative tmpfs:\n%s\nsupervised:\n%s%s", want, out, errs)
	}
	if served, _, _, _ := s.sup.StatsSnapshot(); served == 0 {
		t.Errorf("nothing served")
	}
}

func TestRunBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is part of the test environment (.ci/setup): ", err)
	}
	s := startSupervised(t)
	code, out, errs := s.run(t, []string{"bash", "-c", `cd "$BTFUSE_MOUNT"; echo one > f; echo two >> f; exec 3< f; read -u 3 l; echo "$l"; cat < f 2> e; wc -c < f`})
	if code != 0 || out != "one\none\ntwo\n8\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestRunHelpers(t *testing.T) {
	s := startSupervised(t)
	for _, h := range []string{"efault", "nametoolong", "eloop", "x32", "threads", "fstat", "nofollow", "excl", "umask", "setuid"} {
		t.Run(h, func(t *testing.T) {
			code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER="+h)
			if code != 0 {
				t.Errorf("helper %s: exit %d\n%s%s", h, code, out, errs)
			}
		})
	}
}

func TestRunExitStatus(t *testing.T) {
	s := startSupervised(t)
	if code, _, _ := s.run(t, []string{"sh", "-c", "exit 7"}); code != 7 {
		t.Errorf("exit 7: got %d", code)
	}
	if code, _, _ := s.run(t, []string{"sh", "-c", "kill -TERM $$"}); code != 128+int(unix.SIGTERM) {
		t.Errorf("killed by SIGTERM: got %d", code)
	}
	if code, _, _ := s.run(t, []string{"/nonexistent/cmd"}); code != 127 {
		t.Errorf("missing command: got %d", code)
	}
}

func TestRunKilledTarget(t *testing.T) {
	s := startSupervised(t)
	done := make(chan struct{})
	var code int
	go func() {
		defer close(done)
		code, _, _ = s.run(t, []string{"sh", "-c", `while :; do echo x > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f" > /dev/null; done & echo $! > "$BTFUSE_MOUNT/pid"; wait`})
	}()
	var pid int
	for i := 0; i < 200 && pid == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		if b, err := os.ReadFile(filepath.Join(s.Dir, "pid")); err == nil {
			fmt.Sscan(string(b), &pid)
		}
	}
	if pid == 0 {
		t.Fatal("loop did not start")
	}
	time.Sleep(100 * time.Millisecond)
	unix.Kill(pid, unix.SIGKILL)
	<-done
	// The loop is the shell's background job: the shell's wait (without
	// an operand) returns 0 when it dies, whatever killed it. Anything
	// else means the shell itself was hurt by the killing of its child.
	if code != 0 {
		t.Errorf("exit %d, want 0 from the shell whose job was killed", code)
	}
	// Nothing is left open: the file can be removed and the mount is idle.
	if err := os.Remove(filepath.Join(s.Dir, "f")); err != nil {
		t.Errorf("remove: %v", err)
	}
}

// moreHelpers are helpers defined beside their tests: each runs in the
// target and returns what failed.
var moreHelpers = map[string]func(mount string) []string{
	"mtio":       mtioHelper,
	"mmapwriter": mmapWriterHelper,
	"mmapreader": mmapReaderHelper,
	"emptypath":  emptyPathHelper,
	"fdxattr":    fdXattrHelper,
	"renamer":    renamerHelper,
	"mmapmtime":  mmapMtimeHelper,
	// Prints its findings as failures: the test compares them.
	"protsymlinks": protectedSymlinksHelper,
	"stale":        staleHelper,
	"readdirrace":  readdirRaceHelper,
	"chroot":       chrootHelper,
	"landlock":     landlockHelper,
	"caps":         capsHelper,
	// Not supervised: run plain, through FUSE.
	"fusemmapreader": fuseMmapReaderHelper,
	"fusemmapwriter": fuseMmapWriterHelper,
}

// runHelper runs inside a supervised target and checks errnos; it prints
// what failed and returns non-zero then.
func runHelper(name, mount string) int {
	var fails []string
	check := func(what string, err, want error) {
		if !errors.Is(err, want) {
			fails = append(fails, fmt.Sprintf("%s: %v, want %v", what, err, want))
		}
	}
	switch name {
	case "posix":
		return posixHelper(mount)
	case "fdcmd":
		return fdCmdHelper(mount)
	case "doorbell":
		return doorbellHelper()
	case "noopchown":
		return noopChownHelper(mount)
	case "byhandle":
		return byHandleHelper(mount)
	case "fds":
		// Lists what the target inherited that belongs to the daemon.
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			if l == "/dev/fuse" || strings.Contains(l, "seccomp") {
				fmt.Printf("%s -> %s\n", e.Name(), l)
			}
		}
	case "random":
		return randomHelper(os.Getenv("BTFUSE_RANDOM_REF"), os.Getenv("BTFUSE_RANDOM_DIR"))
	case "ops":
		return opsHelper(mount)
	case "bench":
		n, _ := strconv.Atoi(os.Getenv("BENCH_N"))
		if err := benchHelper(os.Getenv("BENCH_OP"), mount, n); err != nil {
			fails = append(fails, err.Error())
		}
	case "efault":
		_, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(0xffffff9c), 1, 0, 0, 0, 0)
		check("openat(bad pointer)", e, unix.EFAULT)
		_, _, e = unix.Syscall(unix.SYS_OPENAT, uintptr(0xffffff9c), 0, 0)
		check("openat(NULL)", e, unix.EFAULT)
		p, _ := unix.BytePtrFromString(mount)
		_, _, e = unix.Syscall(unix.SYS_STAT, uintptr(unsafePointer(p)), 8, 0)
		check("stat(mount, bad buffer)", e, unix.EFAULT)
	case "nametoolong":
		_, err := unix.Open(mount+"/"+strings.Repeat("a", 5000), unix.O_RDONLY, 0)
		check("open(5000-byte path)", err, unix.ENAMETOOLONG)
		_, err = unix.Open(mount+"/"+strings.Repeat("b", 300), unix.O_RDONLY|unix.O_CREAT, 0o644)
		check("open(300-byte name)", err, unix.ENAMETOOLONG)
		var st unix.Stat_t
		check("stat(300-byte name)", unix.Stat(mount+"/"+strings.Repeat("c", 300), &st), unix.ENAMETOOLONG)
	case "eloop":
		check("symlink l1", unix.Symlink("l2", mount+"/l1"), nil)
		check("symlink l2", unix.Symlink("l1", mount+"/l2"), nil)
		_, err := unix.Open(mount+"/l1", unix.O_RDONLY, 0)
		check("open(loop)", err, unix.ELOOP)
		var st unix.Stat_t
		check("stat(loop)", unix.Stat(mount+"/l1", &st), unix.ELOOP)
		check("lstat(loop)", unix.Lstat(mount+"/l1", &st), nil)
	case "umask":
		// The credential cache must see umask changes at once.
		for i, mask := range []int{0o022, 0o077, 0o002, 0o077} {
			unix.Umask(mask)
			p := fmt.Sprintf("%s/u%d", mount, i)
			check("create", os.WriteFile(p, nil, 0o666), nil)
			var st unix.Stat_t
			check("stat", unix.Stat(p, &st), nil)
			if st.Mode&0o777 != uint32(0o666&^mask) {
				fails = append(fails, fmt.Sprintf("umask %o: mode %o", mask, st.Mode&0o777))
			}
		}
	case "setuid":
		// Served as root first (cached), then as nobody: the cache must
		// not keep root's rights.
		check("create", os.WriteFile(mount+"/private", []byte("x"), 0o600), nil)
		_, err := os.ReadFile(mount + "/private")
		check("read as root", err, nil)
		if os.Geteuid() != 0 {
			break
		}
		check("setuid", syscall.Setuid(65534), nil)
		_, err = os.ReadFile(mount + "/private")
		check("read as nobody", err, unix.EACCES)
		var st unix.Stat_t
		check("stat as nobody", unix.Stat(mount+"/private", &st), nil)
	case "x32":
		_, _, e := unix.Syscall(x32Bit|unix.SYS_GETPID, 0, 0, 0)
		check("x32 getpid", e, unix.ENOSYS)
	case "nofollow":
		check("create", os.WriteFile(mount+"/target", []byte("t"), 0o644), nil)
		check("symlink", unix.Symlink("target", mount+"/link"), nil)
		_, err := unix.Open(mount+"/link", unix.O_RDONLY|unix.O_NOFOLLOW, 0)
		check("open(link, O_NOFOLLOW)", err, unix.ELOOP)
		fd, err := unix.Open(mount+"/link", unix.O_RDONLY, 0)
		check("open(link)", err, nil)
		if err == nil {
			unix.Close(fd)
		}
		_, err = unix.Open(mount+"/target/", unix.O_RDONLY, 0)
		check("open(file/)", err, unix.ENOTDIR)
		_, err = unix.Open(mount+"/newdir/", unix.O_RDONLY|unix.O_CREAT, 0o644)
		check("open(missing/, O_CREAT)", err, unix.EISDIR)
		_, err = unix.Open(mount+"/target", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		check("open(file, O_DIRECTORY)", err, unix.ENOTDIR)
	case "excl":
		fd, err := unix.Open(mount+"/e", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		check("create excl", err, nil)
		if err == nil {
			flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if flags&unix.FD_CLOEXEC == 0 {
				fails = append(fails, "O_CLOEXEC not honoured")
			}
			unix.Close(fd)
		}
		_, err = unix.Open(mount+"/e", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
		check("create excl again", err, unix.EEXIST)
	case "fstat":
		f, err := os.Create(mount + "/s")
		if err != nil {
			fails = append(fails, err.Error())
			break
		}
		f.WriteString("12345")
		var st1, st2 unix.Stat_t
		check("fstat", unix.Fstat(int(f.Fd()), &st1), nil)
		check("stat", unix.Stat(mount+"/s", &st2), nil)
		if st1.Ino != st2.Ino || st1.Dev != st2.Dev || st1.Size != 5 || st2.Size != 5 {
			fails = append(fails, fmt.Sprintf("fstat %+v vs stat %+v", st1, st2))
		}
		check("fchmod", unix.Fchmod(int(f.Fd()), 0o640), nil)
		check("stat", unix.Stat(mount+"/s", &st2), nil)
		if st2.Mode&0o7777 != 0o640 {
			fails = append(fails, fmt.Sprintf("mode after fchmod %o", st2.Mode))
		}
		f.Close()
	case "threads":
		var wg sync.WaitGroup
		var mu sync.Mutex
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					p := fmt.Sprintf("%s/t%d-%d", mount, g, i)
					want := []byte(strings.Repeat(fmt.Sprint(g), i+1))
					err := os.WriteFile(p, want, 0o644)
					got, err2 := os.ReadFile(p)
					if err != nil || err2 != nil || !bytes.Equal(got, want) {
						mu.Lock()
						fails = append(fails, fmt.Sprintf("%s: %v %v %q", p, err, err2, got))
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
	default:
		if h := moreHelpers[name]; h != nil {
			fails = h(mount)
			break
		}
		fails = append(fails, "unknown helper "+name)
	}
	for _, f := range fails {
		fmt.Fprintln(os.Stderr, f)
	}
	if len(fails) > 0 {
		return 1
	}
	return 0
}
