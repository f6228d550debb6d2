package posixtest

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// T0 is the timestamp Age gives a file, far enough in the past that any
// update shows and relatime refreshes atime on the next read.
var T0 = unix.Timespec{Sec: 981173106, Nsec: 7} // 2001-02-03 04:05:06.000000007 UTC

// Times are the three timestamps of an inode.
type Times struct{ A, M, C unix.Timespec }

// Age sets p's atime and mtime to T0 (without following a symlink) and
// returns the times as they are now. It ends the case on failure.
func (s *S) Age(p string) Times {
	ts := []unix.Timespec{T0, T0}
	s.Must("age "+p, s.Utimens(p, ts, unix.AT_SYMLINK_NOFOLLOW))
	t, e := s.times(p)
	s.Must("age "+p, e)
	waitCoarseClockPast(t.C)
	return t
}

// waitCoarseClockPast returns once the coarse realtime clock, the one
// kernel filesystems stamp inodes with, reads later than t. Until then an
// update of a ctime equal to t could go unseen (tmpfs stamps a directory
// with the coarse time of the child it removes). It waits one clock tick
// at most; nothing here measures time.
func waitCoarseClockPast(t unix.Timespec) {
	for {
		var now unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &now) != nil {
			return
		}
		if now.Sec > t.Sec || now.Sec == t.Sec && now.Nsec > t.Nsec {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func (s *S) times(p string) (Times, unix.Errno) {
	var st unix.Stat_t
	if err := sys.Lstat(s.Path(p), &st); err != nil {
		return Times{}, Errno(err)
	}
	return Times{A: st.Atim, M: st.Mtim, C: st.Ctim}, 0
}

// TimesSince records how p's times relate to before: "same", "T0", "now"
// (within a minute of the wall clock; enough to tell an update from a
// preserved value without asserting anything about durations), or the
// value itself. ctime, which no call can set, is "same" or "changed".
func (s *S) TimesSince(p string, before Times) {
	t, e := s.times(p)
	if e != 0 {
		s.Logf("times %q = %s", p, ErrnoString(e))
		return
	}
	c := "same"
	if t.C != before.C {
		c = "changed"
	}
	s.Logf("times %q = atime=%s mtime=%s ctime=%s", p, RelTime(t.A, before.A), RelTime(t.M, before.M), c)
}

// TimesNow records p's atime and mtime relative to T0 and now only.
func (s *S) TimesNow(p string) {
	s.TimesSince(p, Times{A: unix.Timespec{Sec: -1}, M: unix.Timespec{Sec: -1}})
}

// RelTime describes t as TimesSince does: "same" as before, "T0", "now",
// or the value itself.
func RelTime(t, before unix.Timespec) string {
	switch {
	case t == before:
		return "same"
	case t == T0:
		return "T0"
	}
	d := time.Since(time.Unix(t.Sec, t.Nsec))
	if d < time.Minute && d > -time.Minute {
		return "now"
	}
	return fmt.Sprintf("%d.%09d", t.Sec, t.Nsec)
}
