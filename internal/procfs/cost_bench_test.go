package procfs

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The costs a notification pays to learn who calls: /proc/TID/status
// (credentials, thread group), the user namespace, and the leader test
// that readTgid makes first.
func BenchmarkProcCosts(b *testing.B) {
	pid := os.Getpid()
	b.Run("ReadStatus", func(b *testing.B) {
		for b.Loop() {
			ReadStatus(pid)
		}
	})
	b.Run("SameUserNS", func(b *testing.B) {
		for b.Loop() {
			SameUserNS(pid)
		}
	})
	b.Run("PidfdOpenLeader", func(b *testing.B) {
		for b.Loop() {
			fd, err := unix.PidfdOpen(pid, 0)
			if err == nil {
				unix.Close(fd)
			}
		}
	})
}
