package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/launcher"
)

// TestDoorbell: under the fast filter the doorbell syscall reaches the
// hook with the caller's TID as the kernel names it and the call's
// arguments, and its result is the syscall's (a value, or an errno);
// without a hook, and under the plain filter (which does not notify it),
// the call fails with ENOSYS and reaches no hook.
func TestDoorbell(t *testing.T) {
	s := startSupervised(t)
	var mu sync.Mutex
	var calls []string
	s.sup.OnDoorbell(func(tid int, args [6]uint64) int64 {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, fmt.Sprintf("tid=%d args=%d,%d", tid, args[0], args[1]))
		if args[0] == 7 {
			return 42
		}
		return -int64(unix.EPERM)
	})
	for _, tc := range []struct {
		name   string
		fast   bool
		hook   bool
		out    string
		called bool
	}{
		{"fast filter", true, true, "7,3: 42 0\n8,1: -1 1\n", true},
		{"no hook", true, false, "7,3: -1 38\n8,1: -1 38\n", false},
		{"plain filter", false, true, "7,3: -1 38\n8,1: -1 38\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.hook {
				s.sup.OnDoorbell(nil)
			}
			mu.Lock()
			calls = nil
			mu.Unlock()
			o, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			opts := launcher.Options{Self: []string{os.Args[0]}, Stdout: o,
				Env: append(os.Environ(), "BTFUSE_TEST_HELPER=doorbell", MountEnv+"="+s.mount)}
			if tc.fast {
				opts.Build = BuildFastFilter
			}
			tg, stop := startServed(t, []string{os.Args[0]}, opts, s.serve(t))
			code := tg.Wait()
			stop()
			b, _ := os.ReadFile(o.Name())
			out := string(b)
			if code != 0 {
				t.Fatalf("helper exited %d: %s", code, out)
			}
			tid, rest, _ := cutLine(out)
			if rest != tc.out {
				t.Errorf("helper said %q, want %q", rest, tc.out)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{"tid=" + tid + " args=7,3", "tid=" + tid + " args=8,1"}
			if !tc.called {
				want = nil
			}
			if fmt.Sprint(calls) != fmt.Sprint(want) {
				t.Errorf("hook saw %v, want %v", calls, want)
			}
		})
	}
}

// cutLine splits s after its first line, which it returns without the
// newline.
func cutLine(s string) (first, rest string, ok bool) {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// doorbellHelper rings the doorbell twice from one thread, whose TID it
// prints first, and prints each result and errno.
func doorbellHelper() int {
	runtime.LockOSThread()
	fmt.Println(unix.Gettid())
	for _, a := range [][2]uintptr{{7, 3}, {8, 1}} {
		r, _, e := unix.Syscall6(DoorbellNr, a[0], a[1], 0, 0, 0, 0)
		fmt.Printf("%d,%d: %d %d\n", a[0], a[1], int64(r), int(e))
	}
	return 0
}
