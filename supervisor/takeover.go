package supervisor

import (
	"golang.org/x/sys/unix"
)

// takeoverScan is how many ids next to the known ones TakeOver probes for
// notifications the dead supervisor received but never published: one per
// receiving thread it had, plus the ids of notifications whose targets
// went away unanswered in between. A probe is one ioctl.
const takeoverScan = 64

// TakeOver answers every notification of the listener fd with CONTINUE.
// It is for the process that handed the listener to a daemon and kept a
// copy ('btfuse run'), once that daemon has died or stopped serving it:
// the kernel then runs each call by its own rules, so outside the mount
// everything works as without btfuse, and under the mount of a dead daemon
// the FUSE connection answers ENOTCONN, as it does to every process.
//
// First it answers what the daemon had received and not answered: those
// notifications (state SENT) wait until someone names them by id, and
// ids are consecutive. They are the ids on the board b (nil: none) that
// are still pending (SECCOMP_IOCTL_NOTIF_ID_VALID), and any pending id
// just above the highest of them (a receiver killed between its receive
// and its store). With an empty board, the ids just under the first one
// TakeOver receives itself are probed instead. Then it receives and
// continues every new notification, until the listener hangs up (no
// process uses the filter any more) or stop is closed. It returns how many
// notifications it continued in all, and how many of them the daemon had
// received.
func TakeOver(fd int, b *Board, stop <-chan struct{}) (continued, pending uint64) {
	var count uint64
	answer := func(id uint64) bool {
		resp := notifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		for {
			switch notifSend(fd, &resp) {
			case unix.EINTR:
				continue
			case 0:
				count++
				return true
			}
			return false // ENOENT: the target is gone
		}
	}
	probe := func(from uint64) {
		for id := from; id != from+takeoverScan; id++ {
			if notifIDValid(fd, id) == 0 && answer(id) {
				pending++
			}
		}
	}
	var top uint64
	known := false
	if b != nil {
		for _, id := range b.ids() {
			if notifIDValid(fd, id) == 0 && answer(id) {
				pending++
			}
			// Ids wrap around: compare by distance.
			if !known || int64(id-top) > 0 {
				top, known = id, true
			}
		}
		if known {
			probe(top + 1)
		}
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	var n notif
	for {
		select {
		case <-stop:
			return count, pending
		default:
		}
		// A bounded wait, so that stop is seen; a notification wakes it
		// at once.
		_, err := unix.Poll(pfd, 100)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil, pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
			return count, pending
		case pfd[0].Revents&unix.POLLIN == 0:
			continue
		}
		switch notifRecv(fd, &n) {
		case 0:
		case unix.EINTR, unix.ENOENT:
			continue
		default:
			return count, pending
		}
		if !known {
			known = true
			probe(n.ID - takeoverScan)
		}
		answer(n.ID)
	}
}
