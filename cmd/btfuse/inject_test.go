package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// injectRun runs 'btfuse run --inject-seed 1 ARGS' with sh -c script in
// dir and returns its exit code and output.
func injectRun(t *testing.T, dir string, args []string, prog ...string) (int, string, string) {
	t.Helper()
	runtime := filepath.Join(t.TempDir(), "run")
	full := append([]string{"run", "--inject-seed", "1"}, args...)
	full = append(append(full, "--"), prog...)
	cmd := btfuse(runtime, full...)
	cmd.Dir = dir
	return runToEnd(t, cmd)
}

// py runs a python3 program under btfuse run with the given rules in dir.
func py(t *testing.T, dir string, rules []string, src string) (int, string, string) {
	t.Helper()
	var args []string
	for _, r := range rules {
		args = append(args, "--inject", r)
	}
	return injectRun(t, dir, args, "python3", "-c", src)
}

// inMountOrPlain runs f in a plain directory and in the mount of an
// embedded daemon (through $BTFUSE_MOUNT, which f's program must cd to
// when in is true).
func bothPlaces(t *testing.T, f func(t *testing.T, dir string, inMount bool)) {
	t.Run("plain", func(t *testing.T) { f(t, t.TempDir(), false) })
	t.Run("mount", func(t *testing.T) { f(t, t.TempDir(), true) })
}

// cdMount is the python line that moves into the mount when asked.
func cdMount(in bool) string {
	if in {
		return "import os; os.chdir(os.environ['BTFUSE_MOUNT'])\n"
	}
	return "import os\n"
}

// The bt-fuse demo: the shell's write to 123.txt fails with EPERM, its
// other writes do not, and nothing is written to the file, in a plain
// directory and in the mount.
func TestInjectDemo(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "bash")
	bothPlaces(t, func(t *testing.T, dir string, in bool) {
		script := `echo 345 > 123.txt; echo "rc=$?"; echo 678 > other.txt; wc -c < 123.txt; cat other.txt`
		if in {
			script = `cd "$BTFUSE_MOUNT" && ` + script
		}
		code, out, errOut := injectRun(t, dir, []string{"--inject", "write:error=EPERM:path=*/123.txt"}, "bash", "-c", script)
		if code != 0 || out != "rc=1\n0\n678\n" {
			t.Errorf("exit %d, stdout %q, want rc=1, an empty 123.txt and other.txt written", code, out)
		}
		if !strings.Contains(errOut, "write error: Operation not permitted") {
			t.Errorf("stderr %q lacks the shell's write error", errOut)
		}
		if !in {
			if b, err := os.ReadFile(filepath.Join(dir, "123.txt")); err != nil || len(b) != 0 {
				t.Errorf("123.txt: %q %v, want empty", b, err)
			}
		}
	})
}

// runResults runs a python program that prints one JSON list and returns it.
func runResults(t *testing.T, dir string, rules []string, src string) []any {
	t.Helper()
	code, out, errOut := py(t, dir, rules, src)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var got []any
	if err := json.Unmarshal([]byte(strings.TrimSpace(lastLine(out))), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	return got
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// openLoop opens f n times and prints each result: "ok" or the errno name.
// f is made with mknod, which the rules on openat do not count.
const openLoop = `import errno, json
os.mknod('f')
res = []
for i in range(%d):
    try:
        open('f').close(); res.append('ok')
    except OSError as e:
        res.append(errno.errorcode[e.errno])
print(json.dumps(res))
`

func fmtSrc(in bool, src string, a ...any) string {
	if len(a) > 0 {
		src = sprintf(src, a...)
	}
	return cdMount(in) + src
}

func asStrings(v []any) string {
	var b []string
	for _, x := range v {
		b = append(b, toString(x))
	}
	return strings.Join(b, ",")
}

// Each effect, checked against the rule's promise, in a plain directory
// and in the mount.
func TestInjectEffects(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "python3")
	for _, tc := range []struct {
		name  string
		rules []string
		src   string
		want  string
	}{
		{"error", []string{"openat:error=EACCES:path=*/f"}, sprintf(openLoop, 2), "EACCES,EACCES"},
		{"when", []string{"openat:error=ENOENT:path=*/f:when=2..3"}, sprintf(openLoop, 5), "ok,ENOENT,ENOENT,ok,ok"},
		{"when-step", []string{"openat:error=ENOENT:path=*/f:when=2+2"}, sprintf(openLoop, 6), "ok,ENOENT,ok,ENOENT,ok,ENOENT"},
		{"count", []string{"openat:error=EIO:path=*/f:count=2"}, sprintf(openLoop, 4), "EIO,EIO,ok,ok"},
		// The first listed rule that fires wins; both count their calls.
		{"order", []string{"openat:error=EIO:path=*/f:when=2", "openat:error=EPERM:path=*/f:when=1..2"}, sprintf(openLoop, 3), "EPERM,EIO,ok"},
		{"comm", []string{"openat:error=EIO:path=*/f:comm=nosuchcomm"}, sprintf(openLoop, 2), "ok,ok"},
		{"comm-match", []string{"openat:error=EIO:path=*/f:comm=python3"}, sprintf(openLoop, 2), "EIO,EIO"},
		{"path-other", []string{"openat:error=EIO:path=*/g"}, sprintf(openLoop, 2), "ok,ok"},
		{"retval", []string{"unlink,unlinkat:retval=0:path=*/keep"}, `import json
open('keep', 'w').close()
os.unlink('keep')
print(json.dumps([str(os.path.exists('keep'))]))`, "True"},
		{"short-write", []string{"write:short=3:path=*/out"}, `import json
fd = os.open('out', os.O_WRONLY|os.O_CREAT|os.O_TRUNC)
n = os.write(fd, b'abcdefgh'); os.close(fd)
print(json.dumps([n, open('out').read()]))`, "3,abc"},
		{"short-read", []string{"read:short=2:path=*/in"}, `import json
open('in', 'w').write('hello world')
fd = os.open('in', os.O_RDONLY)
a = os.read(fd, 100); b = os.read(fd, 100); os.close(fd)
print(json.dumps([a.decode(), b.decode()]))`, "he,ll"},
		{"short-pread", []string{"pread64:short=4:path=*/in"}, `import json
open('in', 'w').write('hello world')
fd = os.open('in', os.O_RDONLY)
a = os.pread(fd, 100, 6); os.close(fd)
print(json.dumps([a.decode()]))`, "worl"},
		{"enospc", []string{"write:enospc=10:path=*/out"}, `import json, errno
fd = os.open('out', os.O_WRONLY|os.O_CREAT|os.O_TRUNC)
res = [os.write(fd, b'123456'), os.write(fd, b'abcdef')]
try:
    os.write(fd, b'x')
except OSError as e:
    res.append(errno.errorcode[e.errno])
os.close(fd)
res.append(open('out').read())
print(json.dumps(res))`, "6,4,ENOSPC,123456abcd"},
		{"enospc-append", []string{"write:enospc=5:path=*/out"}, `import json, errno
open('out', 'w').write('abc')
fd = os.open('out', os.O_WRONLY|os.O_APPEND)
res = [os.write(fd, b'defgh')]
os.close(fd)
res.append(open('out').read())
print(json.dumps(res))`, "2,abcde"},
		{"corrupt-write", []string{"write:corrupt=2:path=*/out"}, `import json
data = bytes(range(64))
fd = os.open('out', os.O_WRONLY|os.O_CREAT|os.O_TRUNC)
n = os.write(fd, data); os.close(fd)
got = open('out', 'rb').read()
diff = [i for i in range(64) if got[i] != data[i]]
print(json.dumps([n, len(got), len(diff), all(got[i] == data[i] ^ 0xff for i in diff)]))`, "64,64,2,true"},
		{"corrupt-read", []string{"read:corrupt=3:path=*/in"}, `import json
data = bytes(range(100))
open('in', 'wb').write(data)
fd = os.open('in', os.O_RDONLY)
got = os.read(fd, 1000); os.close(fd)
diff = [i for i in range(len(got)) if got[i] != data[i]]
fd = os.open('in', os.O_RDONLY)
same = os.pread(fd, 1000, 0) == data; os.close(fd)
print(json.dumps([len(got), len(diff), same]))`, "100,3,true"},
		{"signal", []string{"mkdir:signal=SIGUSR1:path=*/d"}, `import json, signal
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append('usr1'))
os.mkdir('d')
for i in range(20):
    os.stat('d')
got.append(str(os.path.isdir('d')))
print(json.dumps(got))`, "usr1,True"},
		{"writev-short", []string{"writev:short=5:path=*/out"}, `import json
fd = os.open('out', os.O_WRONLY|os.O_CREAT|os.O_TRUNC)
n = os.writev(fd, [b'abc', b'defg', b'hij']); os.close(fd)
print(json.dumps([n, open('out').read()]))`, "5,abcde"},
		{"readv-corrupt", []string{"readv:corrupt=1:path=*/in"}, `import json
open('in', 'wb').write(b'\x00' * 8)
fd = os.open('in', os.O_RDONLY)
a = bytearray(3); b = bytearray(5)
n = os.readv(fd, [a, b]); os.close(fd)
print(json.dumps([n, (bytes(a) + bytes(b)).count(b'\xff')]))`, "8,1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bothPlaces(t, func(t *testing.T, dir string, in bool) {
				got := asStrings(runResults(t, dir, tc.rules, fmtSrc(in, tc.src)))
				if got != tc.want {
					t.Errorf("got %s, want %s", got, tc.want)
				}
			})
		})
	}
}

// delay_enter and delay_exit make the call last at least the delay, and
// a call sleeping in a delay holds up no other call: a second thread's
// stats all finish while the first thread's stat sleeps.
func TestInjectDelay(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "python3")
	// A served open in the mount is answered when its descriptor is
	// installed: its delay_exit must come before that.
	for _, tc := range []struct{ rule, call string }{
		{"newfstatat,stat:delay_enter=1500ms:path=*/slow", "os.stat('slow')"},
		{"newfstatat,stat:delay_exit=1500ms:path=*/slow", "os.stat('slow')"},
		{"openat:delay_exit=1500ms:path=*/slow", "os.close(os.open('slow', os.O_RDONLY))"},
	} {
		rule := tc.rule
		t.Run(rule, func(t *testing.T) {
			bothPlaces(t, func(t *testing.T, dir string, in bool) {
				got := asStrings(runResults(t, dir, []string{rule}, fmtSrc(in, `import json, threading, time
open('slow', 'w').close(); open('fast', 'w').close()
done = []
def other():
    time.sleep(0.2)
    for i in range(50):
        os.stat('fast')
    done.append('fast')
th = threading.Thread(target=other); th.start()
t0 = time.monotonic(); `+tc.call+`; took = time.monotonic() - t0
done.append('slow'); th.join()
print(json.dumps(done + [str(took >= 1.5)]))`)))
				if got != "fast,slow,True" {
					t.Errorf("got %s: want the other thread done first and the slow stat >= 1.5 s", got)
				}
			})
		})
	}
}

// prob= with a seed: the same seed gives the same faulted calls, another
// seed other ones.
func TestInjectProbSeed(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "python3")
	run := func(seed string) string {
		dir := t.TempDir()
		code, out, errOut := injectRun(t, dir, []string{"--inject-seed", seed, "--inject", "openat:error=EIO:path=*/f:prob=0.5"},
			"python3", "-c", fmtSrc(false, sprintf(openLoop, 40)))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		return lastLine(out)
	}
	a, b, c := run("7"), run("7"), run("8")
	if a != b {
		t.Errorf("seed 7 twice: %s then %s", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 gave the same faults: %s", a)
	}
	if n := strings.Count(a, "EIO"); n < 8 || n > 32 {
		t.Errorf("%d of 40 calls faulted with prob=0.5: %s", n, a)
	}
	// Without --inject-seed, the seed is printed.
	code, _, errOut := runBtfuse(t, filepath.Join(t.TempDir(), "run"), "run", "--inject", "openat:error=EIO:path=/nonexistent/x", "--", "true")
	if code != 0 || !strings.Contains(errOut, "fault injection seed ") {
		t.Errorf("exit %d, stderr %q: want the seed printed", code, errOut)
	}
}

// A bad rule is refused before the command runs, with the position and
// the accepted syntax.
func TestInjectBadRule(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, args := range [][]string{
		{"--inject", "write:error=EPERM:bogus=1"},
		{"--inject", "write:error=ENOTANERRNO"},
		{"--inject-file", filepath.Join(dir, "rules")},
	} {
		os.WriteFile(filepath.Join(dir, "rules"), []byte("# ok\nwrite:error=EIO\nopen:when=0:error=EIO\n"), 0o644)
		code, _, errOut := runBtfuse(t, filepath.Join(dir, "run"), append(append([]string{"run"}, args...), "--", "touch", marker)...)
		if code == 0 || !strings.Contains(errOut, "at byte") || !strings.Contains(errOut, "accepted syntax") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%v: the command ran", args)
		}
	}
}
