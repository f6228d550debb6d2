package supervisor

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// result is a handler's answer.
type result struct {
	val  int64
	err  unix.Errno
	cont bool // SECCOMP_USER_NOTIF_FLAG_CONTINUE: let the kernel run the syscall
	done bool // already answered (ADDFD with SEND)
}

func cont() result             { return result{cont: true} }
func ok(v int64) result        { return result{val: v} }
func fail(e unix.Errno) result { return result{err: e} }

// errnoResult converts an error from a handler into a result at the reply
// boundary: an unknown error becomes EIO plus a log line.
func (s *Supervisor) errnoResult(err error) result {
	var e unix.Errno
	if errors.As(err, &e) {
		return fail(e)
	}
	s.log.Error("unexpected handler error", "err", err)
	return fail(unix.EIO)
}

// send answers notification id with r. This is the one place where an
// errno gets the kernel's negative sign.
func (s *Supervisor) send(fd int, id uint64, r result) {
	if r.done {
		s.stats.Served.Add(1)
		return
	}
	resp := notifResp{ID: id}
	switch {
	case r.cont:
		resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
		s.stats.Continued.Add(1)
	case r.err != 0:
		resp.Error = -int32(r.err)
		s.stats.Errors.Add(1)
	default:
		resp.Val = r.val
		s.stats.Served.Add(1)
	}
	for {
		switch e := notifSend(fd, &resp); e {
		case 0:
			return
		case unix.EINTR:
			continue
		case unix.ENOENT:
			s.stats.Gone.Add(1)
			return
		default:
			s.log.Warn("send seccomp response", "err", e)
			return
		}
	}
}

func sleepBriefly() { time.Sleep(time.Millisecond) }
