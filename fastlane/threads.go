package fastlane

import (
	"github.com/btfuse/btfuse/supervisor"
)

// maxThreads bounds a session's thread cache; past it the cache starts
// over.
const maxThreads = 1024

// threadEntry is what the worker knows of one thread of its process: the
// supervisor's resolution of its TID (credentials, umask), the credential
// generation it was read at, and the claim count of the slot it came
// through.
type threadEntry struct {
	th    supervisor.Thread
	gen   uint64
	slot  int
	claim uint32
}

// thread returns the Thread that posted the request in slot b as tid,
// without a syscall when the worker already knows it.
//
// The supervisor's credential cache checks, per call, that a cached TID
// still names the same thread (pidfd_send_signal on the thread's pidfd),
// so that a TID reused by a new thread is not served with the old one's
// credentials. Here the slot says it for free: a thread that claims a slot
// bumps the slot's claim count, and a request is posted by the slot's
// claimer, blocked in the call. A new thread with an old TID has claimed a
// slot since (a thread-local slot dies with its thread), so an entry is
// used only for requests from the same slot with the same claim count.
// Credential changes (set*id, capset, which the seccomp filter notifies)
// change the supervisor's generation, which drops every entry.
//
// The TID and the claim count are the library's word, as the TID always
// was: a thread that forges them gets at most the credentials of a thread
// of its own process since the last credential change, which it could
// have borrowed from that thread anyway (they share memory). A thread of
// another process is never admitted: a new entry is read from the
// supervisor, which says which process the TID belongs to.
func (ss *session) thread(b, tid int) (supervisor.Thread, bool) {
	gen, keep := ss.s.sup.CredGen()
	claim := ss.seg.load(b + slotClaim)
	if e, ok := ss.threads[tid]; ok {
		if keep && e.gen == gen && e.slot == b && e.claim == claim {
			return e.th, true
		}
		delete(ss.threads, tid)
	}
	th, ok := ss.s.sup.LaneThread(tid)
	if !ok || th.Tgid() != ss.tgid {
		return supervisor.Thread{}, false
	}
	if keep {
		if ss.threads == nil || len(ss.threads) >= maxThreads {
			ss.threads = make(map[int]threadEntry)
		}
		ss.threads[tid] = threadEntry{th: th, gen: gen, slot: b, claim: claim}
	}
	return th, true
}
