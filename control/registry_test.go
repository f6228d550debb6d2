package control

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btfuse/btfuse/internal/testutil"
)

func openRegistry(tb testing.TB) *Registry {
	tb.Helper()
	r, err := Open(filepath.Join(tb.TempDir(), "run"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return r
}

// claimAndServe plays a daemon: claims mount, listens and publishes. It
// releases everything at cleanup.
func claimAndServe(tb testing.TB, r *Registry, mount string) (*Claim, *Server) {
	tb.Helper()
	c, err := r.Claim(mount)
	if err != nil {
		tb.Fatalf("Claim(%s): %v", mount, err)
	}
	s, err := Listen(c.SocketPath(), nil)
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	s.Start()
	tb.Cleanup(func() {
		s.Close()
		c.Release()
	})
	if err := c.Publish(Info{PID: os.Getpid(), Start: time.Now(), Version: "test"}); err != nil {
		tb.Fatalf("Publish: %v", err)
	}
	return c, s
}

func TestRegistryLifecycle(t *testing.T) {
	r := openRegistry(t)
	if fi, err := os.Stat(r.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("registry dir mode %v, %v; want 0700", fi.Mode(), err)
	}
	ctx := testCtx(t)
	c, _ := claimAndServe(t, r, "/mnt/a")
	claimAndServe(t, r, "/mnt/b")

	list, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 2 || list[0].Mount != "/mnt/a" || list[1].Mount != "/mnt/b" {
		t.Fatalf("List = %+v, want /mnt/a and /mnt/b", list)
	}
	e := list[0]
	if e.Err != nil || e.PID != os.Getpid() || e.Protocol != Version || e.Socket != c.SocketPath() {
		t.Errorf("entry %+v", e)
	}
	if _, err := r.Claim("/mnt/a"); err == nil || !strings.Contains(err.Error(), "already serves /mnt/a") {
		t.Errorf("second Claim: %v, want busy", err)
	}
	var be *BusyError
	if _, err := r.Claim("/mnt/a"); !errors.As(err, &be) || be.PID != os.Getpid() {
		t.Errorf("second Claim: %v, want BusyError with our pid", err)
	}
	if got, err := r.Lookup(ctx, "/mnt/b"); err != nil || got.Mount != "/mnt/b" {
		t.Errorf("Lookup(/mnt/b) = %+v, %v", got, err)
	}
	if _, err := r.Lookup(ctx, "/mnt/c"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Lookup(/mnt/c): %v, want ErrNotRunning", err)
	}

	if err := c.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := r.Lookup(ctx, "/mnt/a"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Lookup after Release: %v, want ErrNotRunning", err)
	}
	for _, ext := range []string{".lock", ".json"} {
		if _, err := os.Stat(filepath.Join(r.Dir(), Key("/mnt/a")+ext)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Release: %v", ext, err)
		}
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		tb.Fatalf("run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestRegistryRemovesDeadEntries(t *testing.T) {
	r := openRegistry(t)
	ctx := testCtx(t)
	claimAndServe(t, r, "/mnt/live")

	// What a daemon killed with SIGKILL leaves: a lock nobody holds, its
	// info naming a gone pid, and a socket file nobody listens on.
	dead := "/mnt/dead"
	key := Key(dead)
	c, err := r.Claim(dead)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen(c.SocketPath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ln.SetUnlinkOnClose(false)
	s.Close()
	if err := c.Publish(Info{PID: deadPID(t)}); err != nil {
		t.Fatal(err)
	}
	c.lock.Close() // the kernel drops the lock as it would at death
	// And debris without any lock: an info file from an older run.
	orphan := Key("/mnt/orphan")
	os.WriteFile(filepath.Join(r.Dir(), orphan+".json"), []byte(`{"mount":"/mnt/orphan","pid":1}`), 0o600)

	list, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 || list[0].Mount != "/mnt/live" {
		t.Errorf("List = %+v, want only /mnt/live", list)
	}
	names, _ := os.ReadDir(r.Dir())
	for _, n := range names {
		if strings.HasPrefix(n.Name(), key) || strings.HasPrefix(n.Name(), orphan) {
			t.Errorf("dead entry file %s left in the registry", n.Name())
		}
	}
	// The mount can be claimed again.
	claimAndServe(t, r, dead)
}

func TestRegistryUnreachableDaemon(t *testing.T) {
	r := openRegistry(t)
	_, s := claimAndServe(t, r, "/mnt/mute")
	s.Close() // the daemon lives (holds its lock) but its socket is gone
	list, err := r.List(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Err == nil || !strings.Contains(list[0].Err.Error(), "does not answer") {
		t.Errorf("List = %+v, want the entry flagged as not answering", list)
	}
}

func TestCanonical(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(dir, "link"))
	tests := []struct{ in, want string }{
		{filepath.Join(dir, "real", "m"), filepath.Join(real, "m")},
		{filepath.Join(dir, "link", "m"), filepath.Join(real, "m")},
		{filepath.Join(dir, "real", "..", "real", "m") + "/", filepath.Join(real, "m")},
		{"/", "/"},
		{"/nonexistent/x/y", "/nonexistent/x/y"},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestOpenRefusesForeignDir(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.SkipOrFail(t, "creating a directory owned by someone else needs root")
	}
	dir := filepath.Join(t.TempDir(), "run")
	os.Mkdir(dir, 0o700)
	os.Chown(dir, 65534, 65534)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("Open of a foreign dir: %v", err)
	}
	// A foreign file is not the user's to remove either: the advice is to
	// go elsewhere, never to delete it.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	os.Chown(file, 65534, 65534)
	for _, p := range []string{dir, file} {
		_, err := Open(p)
		if err == nil || strings.Contains(err.Error(), "remove") || !strings.Contains(err.Error(), "BTFUSE_RUNTIME_DIR") {
			t.Errorf("Open(%s) of another user's: %v; want advice to set BTFUSE_RUNTIME_DIR, not to remove it", p, err)
		}
	}
}

// TestSelect: "" selects every daemon, a directory the one serving it
// (named in any form Canonical accepts), or ErrNotRunning.
func TestSelect(t *testing.T) {
	r := openRegistry(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	claimAndServe(t, r, a)
	claimAndServe(t, r, b)
	for _, tt := range []struct {
		dir  string
		want []string
		err  error
	}{
		{"", []string{a, b}, nil},
		{b, []string{b}, nil},
		{dir + "/./a/", []string{a}, nil},
		{filepath.Join(dir, "c"), nil, ErrNotRunning},
	} {
		got, err := r.Select(ctx, tt.dir)
		if !errors.Is(err, tt.err) {
			t.Errorf("Select(%q): %v, want %v", tt.dir, err, tt.err)
			continue
		}
		var mounts []string
		for _, e := range got {
			mounts = append(mounts, e.Mount)
		}
		if strings.Join(mounts, " ") != strings.Join(tt.want, " ") {
			t.Errorf("Select(%q) = %v, want %v", tt.dir, mounts, tt.want)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		euid int
		env  map[string]string
		want string
	}{
		{0, nil, "/run/btfuse"},
		{1000, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, "/run/user/1000/btfuse"},
		{1000, nil, "/tmp/btfuse-1000"}, // su, sudo -u, runuser: no XDG_RUNTIME_DIR
		{1000, map[string]string{"BTFUSE_RUNTIME_DIR": "/x", "XDG_RUNTIME_DIR": "/y"}, "/x"},
	} {
		if got := defaultDir(tc.euid, env(tc.env)); got != tc.want {
			t.Errorf("defaultDir(%d, %v) = %q, want %q", tc.euid, tc.env, got, tc.want)
		}
	}
}

// TestSocketPath: the socket named before a daemon runs (the fast lane's
// environment) is the one the daemon that claims the mount listens on.
func TestSocketPath(t *testing.T) {
	r := openRegistry(t)
	c, err := r.Claim("/mnt/sock")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if got, want := SocketPath(r.dir, "/mnt/sock"), c.SocketPath(); got != want {
		t.Errorf("SocketPath %q, the claim's %q", got, want)
	}
}
