package fastlane_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestChannelDoorbell: the mutations the channel serves take the doorbell
// (one notification that the supervisor's receiver answers); with the
// doorbell off (BTFUSE_FAST_RING=0) the same calls are served by the
// session's worker; and a signal that arrives while a thread rings is
// never seen as EINTR (the library rings again) and never makes a request
// twice (a mkdir served twice would fail with EEXIST).
//
// The worker may still take a few requests that it finds while it polls
// (its first moments, and once every WorkerPatience): the doorbell then
// finds the slot taken and the caller waits for the worker's reply. So
// nearly all, not all, are the doorbell's.
func TestChannelDoorbell(t *testing.T) {
	l := startLane(t)
	l.withLib(t)
	const n = 300
	for _, tc := range []struct {
		name, ring string
		sig        bool
		minRings   int
	}{
		{"rung", "", false, 2*n - 2*n/10},
		{"off", "0", false, 0},
		{"signals", "", true, 2*n - 2*n/10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BTFUSE_FAST_RING", tc.ring)
			args := []string{"rings", fmt.Sprint(n), l.mount + "/r-" + tc.name}
			if tc.sig {
				args = append(args, "sig")
			}
			got := strings.Join(lines(l.supervisedFast(t, args...)), "\n")
			var failed, eintr, rings, handled int
			if _, err := fmt.Sscanf(got, "failed=%d eintr=%d rings=%d handled=%d", &failed, &eintr, &rings, &handled); err != nil {
				t.Fatalf("harness said %q: %v", got, err)
			}
			if failed != 0 || eintr != 0 {
				t.Errorf("%d of %d mkdir+rmdir failed, %d with EINTR", failed, n, eintr)
			}
			if rings < tc.minRings || (tc.minRings == 0 && rings != 0) || rings > 2*n {
				t.Errorf("the doorbell served %d of %d requests, want at least %d (0 when off)", rings, 2*n, tc.minRings)
			}
			if tc.sig && handled != 1 {
				t.Errorf("the timer's handler never ran")
			}
		})
	}
}
