package supervisor

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunFileHandles: name_to_handle_at and open_by_handle_at are not
// notified (a handle is no path), so under run they go through the FUSE
// mount natively, and a handle made before the kernel forgot its inode
// opens after, as on tmpfs.
func TestRunFileHandles(t *testing.T) {
	s := startSupervised(t)
	if err := os.MkdirAll(filepath.Join(s.mount, "d/e"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f", "d/e/g"} {
		if err := os.WriteFile(filepath.Join(s.mount, name), []byte("file "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var handles []string
	for _, name := range []string{"f", "d/e"} {
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, filepath.Join(s.mount, name), 0)
		if err != nil {
			t.Fatalf("name_to_handle_at %s: %v", name, err)
		}
		handles = append(handles, fmt.Sprintf("%s:%d:%x", name, h.Type(), h.Bytes()))
	}
	// Make the kernel forget every inode of the mount (FORGET).
	for deadline := time.Now().Add(10 * time.Second); s.Server.Stats().KernelRefs != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the kernel still holds %d lookups after dropping its caches", s.Server.Stats().KernelRefs)
		}
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=byhandle", "BTFUSE_HANDLES="+strings.Join(handles, ","))
	want := "f: \"file f\\n\"\nd/e: [g]\nmade under run: \"file f\\n\"\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errs)
	}
}

// byHandleHelper opens the handles in $BTFUSE_HANDLES (name:type:hex,...)
// relative to the mount and prints what each gave: a file's contents or a
// directory's entries. Then it makes a handle of f itself and opens it.
func byHandleHelper(mount string) int {
	mfd, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("open mount:", err)
		return 1
	}
	show := func(name string, h unix.FileHandle) {
		fd, err := unix.OpenByHandleAt(mfd, h, unix.O_RDONLY|unix.O_CLOEXEC)
		if err != nil {
			fmt.Printf("%s: %v\n", name, err)
			return
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		if names, err := f.Readdirnames(-1); err == nil {
			slices.Sort(names)
			fmt.Printf("%s: %v\n", name, names)
			return
		}
		b := make([]byte, 64)
		n, err := f.ReadAt(b, 0)
		if n == 0 {
			fmt.Printf("%s: read: %v\n", name, err)
			return
		}
		fmt.Printf("%s: %q\n", name, b[:n])
	}
	for _, spec := range strings.Split(os.Getenv("BTFUSE_HANDLES"), ",") {
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) != 3 {
			fmt.Println("bad handle spec", spec)
			return 1
		}
		typ, err1 := strconv.Atoi(parts[1])
		b, err2 := hex.DecodeString(parts[2])
		if err1 != nil || err2 != nil {
			fmt.Println("bad handle spec", spec)
			return 1
		}
		show(parts[0], unix.NewFileHandle(int32(typ), b))
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, mount+"/f", 0)
	if err != nil {
		fmt.Println("name_to_handle_at under run:", err)
		return 1
	}
	show("made under run", h)
	return 0
}
