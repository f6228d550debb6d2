package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// The FUSE door applies 'btfuse mount --inject' rules to every process:
// the demo's write, an open, a short read, a corrupted write and count=,
// each compared with the rule's promise. Files a read or write rule may
// match are opened without passthrough, so their data reaches the door.
func TestInjectFUSEDoor(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "python3", "bash")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir, "--inject-seed", "5",
		"--inject", "write:error=EPERM:path=*/123.txt",
		"--inject", "openat:error=EACCES:path=*/secret:count=1",
		"--inject", "read:short=2:path=*/in",
		"--inject", "write:corrupt=1:path=*/out")
	sh := exec.Command("bash", "-c", `echo 345 > 123.txt; echo "rc=$?"; wc -c < 123.txt`)
	sh.Dir = dir
	code, out, errOut := runToEnd(t, sh)
	if code != 0 || out != "rc=1\n0\n" || !strings.Contains(errOut, "write error: Operation not permitted") {
		t.Errorf("demo: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	py := exec.Command("python3", "-c", `import os, errno, json
res = []
for i in range(2):
    try:
        open('secret', 'w').close(); res.append('ok')
    except OSError as e:
        res.append(errno.errorcode[e.errno])
open('in', 'w').write('hello')
fd = os.open('in', os.O_RDONLY)
res.append(os.read(fd, 100).decode()); os.close(fd)
data = bytes(range(32))
fd = os.open('out', os.O_WRONLY|os.O_CREAT)
res.append(os.write(fd, data)); os.close(fd)
fd = os.open('out', os.O_RDONLY)
got = os.pread(fd, 100, 0); os.close(fd)
res.append(sum(1 for i in range(32) if got[i] != data[i]))
print(json.dumps(res))`)
	py.Dir = dir
	code, out, errOut = runToEnd(t, py)
	if code != 0 || strings.TrimSpace(out) != `["EACCES", "ok", "he", 32, 1]` {
		t.Errorf("exit %d, stdout %q, stderr %q; want the first open refused, a 2-byte read and one byte flipped", code, out, errOut)
	}
}
