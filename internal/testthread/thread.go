// Package testthread gives tests a thread of their own process that does
// not lead it (for what the kernel treats differently in a leader). It
// imports nothing of btfuse, so that any package's tests may use it.
package testthread

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Other returns the TID of a thread of this process that does not
// lead it, alive until the test ends.
func Other(t *testing.T) int {
	t.Helper()
	tids := make(chan int)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	for range 8 {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			tids <- unix.Gettid()
			<-done
		}()
		if tid := <-tids; tid != os.Getpid() {
			return tid
		}
	}
	t.Fatal("no thread but the leader")
	return 0
}
