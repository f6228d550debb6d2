package supervisor

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

func TestRunMutatingDifferential(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	b := testutil.StartBtfuse(t)
	mount, err := control.Canonical(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := New(b.FS, Options{Mount: mount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	var mu sync.Mutex
	served := map[int32]int{}
	var continued []string
	sup.onAnswer = func(nr int32, path string, r result) {
		mu.Lock()
		defer mu.Unlock()
		if !r.cont {
			served[nr]++
			return
		}
		inside := path != "" && (strings.HasPrefix(path, mount) || !strings.HasPrefix(path, "/"))
		switch nr {
		case unix.SYS_CHDIR, unix.SYS_OPENAT, unix.SYS_EXECVE:
			// chdir cannot be served; directory opens go to the
			// kernel by design.
		default:
			if inside {
				continued = append(continued, fmt.Sprintf("%d %q", nr, path))
			}
		}
	}
	s := &supervised{Btfuse: b, mount: mount, sup: sup}

	ref := testutil.TmpfsDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=ops", MountEnv+"="+ref)
	cmd.Stderr = os.Stderr
	wantJSON, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference run: %v", err)
	}
	code, gotJSON, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=ops")
	if code != 0 {
		t.Fatalf("supervised run: exit %d\n%s", code, errs)
	}
	var want, got posixtest.Transcript
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		t.Fatalf("%v: %q", err, wantJSON)
	}
	if err := json.Unmarshal([]byte(gotJSON), &got); err != nil {
		t.Fatalf("%v: %q", err, gotJSON)
	}
	for _, f := range want.Failures {
		t.Errorf("tmpfs: %s", f)
	}
	for _, f := range got.Failures {
		t.Errorf("run: %s", f)
	}
	if d := posixtest.Diff("tmpfs", want.Lines, "run", got.Lines); d != "" {
		t.Errorf("transcripts differ\n%s", d)
	}
	// They were served, not passed to the FUSE door, except the two
	// EXDEV cases (the kernel answers them).
	mu.Lock()
	defer mu.Unlock()
	if len(continued) != 2 {
		t.Errorf("CONTINUEd inside the mount: %v", continued)
	}
	for _, nr := range []int32{unix.SYS_MKDIRAT, unix.SYS_MKNODAT, unix.SYS_UNLINKAT, unix.SYS_RENAMEAT2, unix.SYS_SYMLINKAT,
		unix.SYS_LINKAT, unix.SYS_FCHMODAT, unix.SYS_FCHOWNAT, unix.SYS_TRUNCATE, unix.SYS_UTIMENSAT, unix.SYS_STATFS,
		unix.SYS_SETXATTR, unix.SYS_LSETXATTR, unix.SYS_GETXATTR, unix.SYS_LISTXATTR, unix.SYS_REMOVEXATTR} {
		if served[nr] == 0 {
			t.Errorf("syscall %d never served", nr)
		}
	}
}

// Changes made through run are seen at once through the FUSE door, whose
// entry and attribute caches (1 s) would otherwise show the old state.
func TestRunMutationsVisibleThroughFUSE(t *testing.T) {
	s := startSupervised(t)
	m := s.mount
	for _, p := range []string{"f", "g", "d"} {
		var err error
		if p == "d" {
			err = os.Mkdir(m+"/"+p, 0o755)
		} else {
			err = os.WriteFile(m+"/"+p, []byte("x"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Fill the FUSE door's caches, positive and negative.
	for _, p := range []string{"f", "g", "d", "new", "sl", "h", "nd"} {
		var st unix.Stat_t
		unix.Lstat(m+"/"+p, &st)
	}
	code, out, errs := s.run(t, []string{"sh", "-c", `cd "$BTFUSE_MOUNT" && chmod 600 f && mv g new && rmdir d && mkdir nd && ln -s f sl && ln f h && chown 7:8 h`})
	if code != 0 {
		t.Fatalf("exit %d %s %s", code, out, errs)
	}
	s.Server.FlushInvalidations()
	var st unix.Stat_t
	for _, tt := range []struct {
		path string
		want error
		mode uint32
	}{
		{"f", nil, unix.S_IFREG | 0o600}, {"g", unix.ENOENT, 0}, {"new", nil, unix.S_IFREG | 0o644},
		{"d", unix.ENOENT, 0}, {"nd", nil, unix.S_IFDIR | 0o755}, {"sl", nil, unix.S_IFLNK | 0o777},
		{"h", nil, unix.S_IFREG | 0o600},
	} {
		err := unix.Lstat(m+"/"+tt.path, &st)
		if err != tt.want && !(err == nil && tt.want == nil) {
			t.Errorf("lstat %s through FUSE: %v, want %v", tt.path, err, tt.want)
			continue
		}
		if err == nil && st.Mode != tt.mode {
			t.Errorf("lstat %s through FUSE: mode %o, want %o", tt.path, st.Mode, tt.mode)
		}
	}
	if unix.Lstat(m+"/f", &st) == nil && (st.Nlink != 2 || st.Uid != 7 || st.Gid != 8) {
		t.Errorf("f through FUSE after link and chown: nlink %d uid %d gid %d", st.Nlink, st.Uid, st.Gid)
	}
}

// noopChownHelper makes fsuid 1001 chown(-1, -1) the files of dir owned by
// 1000, by name (fchownat) and through a descriptor (fchown), and prints
// each result and the mode after it.
func noopChownHelper(dir string) int {
	names := []string{"suid", "sgidx", "plain"}
	modes := []uint32{0o4755, 0o2755, 0o0755}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	for i, name := range names {
		for _, how := range []string{"fchownat", "fchown"} {
			p := filepath.Join(dir, name+"-"+how)
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				fmt.Println(err)
				return 1
			}
			unix.Chown(p, 1000, 1000)
			unix.Chmod(p, modes[i])
			fd, err := unix.Open(p, unix.O_RDONLY, 0)
			if err != nil {
				fmt.Println(err)
				return 1
			}
			errc := make(chan error)
			go func() {
				runtime.LockOSThread() // the thread ends with the goroutine
				unix.Setfsuid(1001)
				if how == "fchown" {
					errc <- unix.Fchown(fd, -1, -1)
				} else {
					errc <- unix.Fchownat(dfd, name+"-"+how, -1, -1, 0)
				}
			}()
			err = <-errc
			var st unix.Stat_t
			unix.Fstat(fd, &st)
			unix.Close(fd)
			fmt.Printf("%s %s: %v, mode %o\n", how, name, err, st.Mode&0o7777)
		}
	}
	return 0
}

// TestRunNoopChown: chown(-1, -1) by someone who does not own a setuid or
// setgid file is EPERM and leaves it alone, as on tmpfs; it drops nothing
// from a plain file. (Through the FUSE door the kernel cannot tell it from
// a write's privilege drop: fuseserve's TestQuirkNoopChownKillsSUID.)
func TestRunNoopChown(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=noopchown", MountEnv+"="+ref)
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if !strings.Contains(string(want), "fchown suid: operation not permitted, mode 4755") {
		t.Fatalf("the reference is not what the test is about:\n%s", want)
	}
	code, got, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=noopchown")
	if code != 0 {
		t.Errorf("under run: exit %d (%s)", code, errs)
	}
	if d := posixtest.Diff("tmpfs", strings.Split(string(want), "\n"), "run", strings.Split(got, "\n")); d != "" {
		t.Errorf("under run:\n%s", d)
	}
}
