package fuseserve

import "golang.org/x/sys/unix"

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
