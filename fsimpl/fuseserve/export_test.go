package fuseserve

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// Hooks for the external tests (package fuseserve_test, which may import
// internal/testutil; that package imports this one).

// SetRegisterHook replaces backing-file registration; nil restores it.
func SetRegisterHook(s *Server, f func(fd int) (int32, unix.Errno)) {
	if f == nil {
		s.raw.registerHook.Store(nil)
		return
	}
	s.raw.registerHook.Store(&f)
}

// WithoutKillPrivV2 leaves FUSE_HANDLE_KILLPRIV_V2 out of the negotiation.
func WithoutKillPrivV2(o *Options) { o.noKillPrivV2 = true }

// KernelRefsOf is the lookup count the kernel holds on ino, as this server
// tallies it (0 once the kernel has sent FORGET for all of them).
func KernelRefsOf(s *Server, ino uint64) uint64 {
	s.raw.lookups.mu.Lock()
	defer s.raw.lookups.mu.Unlock()
	return s.raw.lookups.refs[fsimpl.Ino(ino)]
}
