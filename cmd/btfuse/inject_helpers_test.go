package main

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/shmring"
)

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }

func toString(x any) string {
	switch v := x.(type) {
	case float64:
		return fmt.Sprintf("%d", int64(v))
	case string:
		return v
	}
	return fmt.Sprint(x)
}

// 'btfuse trace' names the rule and what it injected.
func TestTraceLineInjected(t *testing.T) {
	op, _ := event.Lookup("write")
	for _, tc := range []struct {
		r    shmring.Record
		want string
	}{
		{shmring.Record{Op: op, Door: event.DoorRun, Outcome: event.Injected, Errno: unix.EPERM, Rule: 1, Fault: event.FaultError, Path: "/t/123.txt"},
			`write "/t/123.txt" = -1 EPERM [injected by rule 1: error]`},
		{shmring.Record{Op: op, Door: event.DoorRun, Outcome: event.Injected, Rule: 2, Fault: event.FaultShort, FaultValue: 3},
			`write = 3 [injected by rule 2: short, 3 bytes moved]`},
		{shmring.Record{Op: op, Door: event.DoorRun, Outcome: event.Injected, Rule: 3, Fault: event.FaultCorrupt, FaultValue: 2},
			`write [injected by rule 3: corrupt, 2 bytes flipped]`},
		{shmring.Record{Op: op, Door: event.DoorRun, Outcome: event.Injected, Rule: 4, Fault: event.FaultSignal, FaultValue: int64(unix.SIGUSR1)},
			`write [injected by rule 4: signal SIGUSR1]`},
	} {
		var b strings.Builder
		writeTraceLine(&b, "/t", false, &tc.r)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("line %q lacks %q", b.String(), tc.want)
		}
	}
}
