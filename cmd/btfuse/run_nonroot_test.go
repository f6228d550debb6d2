package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// nonRootScript runs as uid 1000: an embedded `btfuse run`, then a
// `btfuse mount` of its own and a `btfuse run --mount` attached to it,
// with a read back through the FUSE door.
const nonRootScript = `
set -e
B=$1; M=$2
$B run -- sh -c 'echo hi > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f"; stat -c %u "$BTFUSE_MOUNT/f"'
$B mount "$M" & pid=$!
for i in $(seq 100); do grep -q " $M " /proc/self/mountinfo && break; sleep 0.1; done
$B run --mount "$M" -- sh -c 'echo there > "$BTFUSE_MOUNT/g"'
cat "$M/g"
$B umount "$M"
wait $pid
`

// runAsUser runs script with sh as uid (and gid) uid, with a btfuse
// binary as $1 and a mount directory the user owns as $2, where that user
// can mount FUSE filesystems through fusermount3. It returns the combined
// output.
func runAsUser(t *testing.T, uid, script string) (string, error) {
	t.Helper()
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "fusermount3", "unshare", "setpriv")
	// The test binary sits in a 0700 build directory: copy it out.
	tmp := t.TempDir()
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(tmp, "btfuse")
	testutil.CopyExecutable(t, os.Args[0], bin)
	home := filepath.Join(tmp, "home")
	mnt := filepath.Join(home, "mnt")
	for _, d := range []string{home, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	// fusermount3 opens /dev/fuse with the user's rights, and here the
	// node is root-only: give the user a world-usable node of the same
	// device, bound over /dev/fuse in a private mount namespace (which
	// also takes every mount made inside with it when it ends).
	var st unix.Stat_t
	if err := unix.Stat("/dev/fuse", &st); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(tmp, "fuse")
	if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(st.Rdev)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(node, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /dev/fuse && shift && exec setpriv --reuid=`+uid+` --regid=`+uid+` --clear-groups sh -c "$@"`,
		"sh", node, script, "sh", bin, mnt)
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_MAIN=1", "HOME="+home, "TMPDIR="+home,
		"XDG_RUNTIME_DIR="+home, "BTFUSE_RUNTIME_DIR="+filepath.Join(home, "run"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestE2ERunNonRoot runs btfuse as an ordinary user: FUSE through the
// setuid fusermount3, the filter under NO_NEW_PRIVS, the filesystem's
// root owned by that user (it was root's 0755 before, so an embedded run
// could create nothing in its own mount).
func TestE2ERunNonRoot(t *testing.T) {
	const uid = "1000"
	out, err := runAsUser(t, uid, nonRootScript)
	if err != nil {
		t.Fatalf("as uid %s: %v\n%s", uid, err, out)
	}
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "btfuse") {
			got = append(got, l)
		}
	}
	if want := []string{"hi", uid, "there"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("as uid %s: got %q, want %q; output:\n%s", uid, got, want, out)
	}
	// Without root the file contents live in a directory under /dev/shm:
	// both daemons must have removed theirs (with the user's data).
	left, _ := filepath.Glob("/dev/shm/btfuse-data-*")
	for _, d := range left {
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil && st.Uid == 1000 {
			t.Errorf("backing directory %s left behind", d)
			os.RemoveAll(d)
		}
	}
}

// nonRootSizeScript: a daemon of uid 1000 with --size 10M, and 50 MiB
// written into it through btfuse run (served descriptors: the writes are
// native) and then through the FUSE door. It prints the serving line, the
// size each write reached and what dd said.
const nonRootSizeScript = `
B=$1; M=$2
$B mount --size 10M "$M" > "$HOME/out" 2>&1 & pid=$!
# The serving line comes once the mount and its control socket are ready.
for i in $(seq 600); do grep -q serving "$HOME/out" && break; sleep 0.1; done
grep serving "$HOME/out"
$B run --mount "$M" -- dd if=/dev/zero of="$M/run" bs=1M count=50 2>&1 | grep -o 'No space left on device' | head -1
echo "run: $(stat -c %s "$M/run")"
rm "$M/run"
dd if=/dev/zero of="$M/fuse" bs=1M count=50 2>&1 | grep -o 'No space left on device' | head -1
echo "fuse: $(stat -c %s "$M/fuse")"
$B umount "$M"
wait $pid
`

// TestE2ENonRootSize: --size binds a daemon run by an ordinary user as it
// binds root's: writes through btfuse run, which go natively to the
// backing file of a served descriptor, stop with ENOSPC at the same byte
// as on a kernel tmpfs of that size, and so do writes through the FUSE
// door. (The backing used to be a directory on /dev/shm, bound only by
// /dev/shm's own size: 50 MiB went into a 10M mount.)
func TestE2ENonRootSize(t *testing.T) {
	testutil.RequirePrivileged(t)
	// The reference: a kernel tmpfs of the same size.
	ref := t.TempDir()
	if err := unix.Mount("tmpfs", ref, "tmpfs", 0, "size=10M"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(ref, unix.MNT_DETACH)
	refOut, _ := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(ref, "f"), "bs=1M", "count=50").CombinedOutput()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(ref, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(refOut), "No space left on device") {
		t.Fatalf("dd on a 10M tmpfs: %s", refOut)
	}
	out, err := runAsUser(t, "1000", nonRootSizeScript)
	if err != nil {
		t.Fatalf("as uid 1000: %v\n%s", err, out)
	}
	t.Logf("as uid 1000:\n%s", out)
	if !strings.Contains(out, "backing: private tmpfs in a user namespace") {
		t.Errorf("the daemon of uid 1000 does not use a private tmpfs: %s", out)
	}
	for _, door := range []string{"run", "fuse"} {
		want := fmt.Sprintf("No space left on device\n%s: %d\n", door, st.Size)
		if !strings.Contains(out, want) {
			t.Errorf("through %s: want %q (dd on a kernel tmpfs of 10M), got:\n%s", door, want, out)
		}
	}
}

// TestE2EFusermountMessage: when fusermount3 refuses a mount, btfuse's
// error carries the tool's own message (here: no access to /dev/fuse or
// to a root-owned mount point), in the foreground and with -d, never
// go-fuse's "fusermount exited with code 256".
func TestE2EFusermountMessage(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "fusermount3", "setpriv")
	tmp := t.TempDir()
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(tmp, "btfuse")
	testutil.CopyExecutable(t, os.Args[0], bin)
	mnt := filepath.Join(tmp, "mnt") // root's, 0755
	run := filepath.Join(tmp, "run")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(run, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	for _, args := range [][]string{{"mount", mnt}, {"mount", "-d", mnt}} {
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)...)
		cmd.Env = append(os.Environ(), "BTFUSE_TEST_MAIN=1", "BTFUSE_RUNTIME_DIR="+filepath.Join(run, "r"))
		code, _, errOut := runToEnd(t, cmd)
		if code == 0 || !strings.Contains(errOut, "fusermount3: ") || strings.Contains(errOut, "exited with code") ||
			strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("btfuse %v as uid 65534: exit %d, stderr %q; want one line with fusermount3's own message", args, code, errOut)
		}
		if isMounted(t, mnt) {
			unix.Unmount(mnt, unix.MNT_DETACH)
			t.Fatalf("%s got mounted", mnt)
		}
	}
}
