package launcher

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// allowAll is a filter that notifies nothing: the child still gets a
// listener, and the command runs as it would natively.
func allowAll(int) ([]unix.SockFilter, error) {
	return []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}, nil
}

func opts() Options {
	// The test binary links this package, so it is its own launcher child.
	return Options{
		Self:  []string{os.Args[0]},
		Range: func(soft uint64) (int, int) { return int(soft) - 1, 1 },
		Build: allowAll,
	}
}

// TestStatus: the command's exit code, 128+N for a signal, and a command
// that cannot be found ends the child before the filter (127).
func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		name   string
		argv   []string
		code   int
		exited bool
	}{
		{"true", []string{"true"}, 0, false},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3, false},
		{"killed", []string{"sh", "-c", "kill -TERM $$"}, 128 + int(unix.SIGTERM), false},
		{"not found", []string{"btfuse-no-such-command"}, 127, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := opts()
			o.Stderr, _ = os.Open(os.DevNull)
			defer o.Stderr.Close()
			tg, err := Start(tt.argv, o)
			if errors.Is(err, ErrChildExited) != tt.exited {
				t.Fatalf("Start: %v", err)
			}
			if tt.exited {
				if code := tg.Wait(); code != tt.code {
					t.Errorf("status %d, want %d", code, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tg.Listener == nil {
				t.Fatal("no listener")
			}
			tg.Listener.Close()
			if err := tg.Go(); err != nil {
				t.Fatal(err)
			}
			if code := tg.Wait(); code != tt.code {
				t.Errorf("status %d, want %d", code, tt.code)
			}
		})
	}
}

// TestAbort: a child that never gets the go-ahead is killed, and a second
// Abort does nothing.
func TestAbort(t *testing.T) {
	tg, err := Start([]string{"true"}, opts())
	if err != nil {
		t.Fatal(err)
	}
	tg.Abort()
	tg.Abort()
	if tg.Cmd.ProcessState == nil || tg.Cmd.ProcessState.Success() {
		t.Errorf("child state %v after Abort, want killed", tg.Cmd.ProcessState)
	}
}

func TestSpawnNeedsFilter(t *testing.T) {
	if _, err := Spawn([]string{"true"}, Options{}); err == nil {
		t.Error("Spawn without Range and Build succeeded")
	}
}
