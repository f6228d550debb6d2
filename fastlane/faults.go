package fastlane

// Fault rules and the fast lane. The seccomp lane matches every call it is
// notified of against the daemon's rules; the library answers some calls
// where no notification happens: from the metadata view, and from its
// trampoline page (paths outside the mount; under it, directory opens,
// chdir, stat relative to a directory descriptor, and what the daemon
// answers Kernel for). While a rule applies to every process
// (faults.Set.ForAll: 'btfuse mount --inject', 'btfuse inject add'), every
// session's hdrFaults is 1 and the library does none of that: each call
// goes to the channel, which passes the syscalls a rule names (serveSlot,
// serveFd), or is made the ordinary way, so a rule fires for a fast-lane
// process as for a seccomp-lane one. Rules of one 'btfuse run --inject'
// apply to its processes only, which never get the library.
//
// Until its handshake a process knows nothing of the rules: its calls
// under the mount that the channel would answer are made the ordinary way
// then (the channel is not there yet), but paths outside the mount and
// the calls the library sends to the kernel under it still go there from
// the trampoline.

// faultsChanged is told by the rule set that its rules changed.
func (s *Server) faultsChanged() {
	live := s.faults.ForAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultsLive.Store(live)
	for ss := range s.sessions {
		ss.storeFaults(live)
	}
}

// storeFaults sets hdrFaults unless the segment is already released.
func (ss *session) storeFaults(live bool) {
	v := uint32(0)
	if live {
		v = 1
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.released {
		ss.seg.store(hdrFaults, v)
	}
}
