package posixtest

import (
	"golang.org/x/sys/unix"
)

// Cases of the inode metadata calls: lookup and stat, chmod, chown,
// truncate, utimensat.
var metaCases = []Case{
	{"lookup_stat", caseLookupStat},
	{"statx", caseStatx},
	{"chmod", caseChmod},
	{"chown", caseChown},
	{"truncate", caseTruncate},
	{"truncate_times", caseTruncateTimes},
	{"utimensat", caseUtimensat},
}

func caseLookupStat(s *S) {
	s.WriteFile("f", "hello", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Must("symlink", s.Symlink("f", "l"))
	s.Must("symlink", s.Symlink("missing", "dangling"))
	for _, p := range []string{"f", "d", "l", "dangling", "d/", "d/.", "d/..", "d/../f", "f/", "f/x", "missing", "missing/x", "l/", ""} {
		s.Stat(p)
		s.Lstat(p)
	}
	_, e := s.Stat("missing")
	s.Want("stat missing", e, unix.ENOENT)
	_, e = s.Stat("f/x")
	s.Want("stat f/x", e, unix.ENOTDIR)
	_, e = s.Stat("dangling")
	s.Want("stat dangling", e, unix.ENOENT)
	for _, p := range []string{"f", "d", "missing"} {
		for _, m := range []uint32{unix.F_OK, unix.R_OK, unix.W_OK, unix.X_OK} {
			s.Access(p, m)
		}
	}
	// A name that was looked up as missing appears once created.
	s.WriteFile("missing", "", 0o600)
	s.Stat("missing")
	s.Stat("dangling")
}

// caseStatx: statx answers what stat does, follows symlinks unless
// AT_SYMLINK_NOFOLLOW, takes the sync flags, and refuses unknown flags and
// the reserved mask bit with EINVAL.
func caseStatx(s *S) {
	s.WriteFile("f", "hello", 0o640)
	s.Must("mkdir", s.Mkdir("d", 0o711))
	s.Must("symlink", s.Symlink("f", "l"))
	s.Must("symlink", s.Symlink("missing", "dangling"))
	s.Must("mknod", s.Mknod("p", unix.S_IFIFO|0o600, 0))
	for _, p := range []string{"f", "d", "l", "dangling", "p", "d/..", "f/", "f/x", "missing", ""} {
		s.Statx(p, 0, unix.STATX_BASIC_STATS)
		s.Statx(p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS)
	}
	_, e := s.Statx("missing", 0, unix.STATX_BASIC_STATS)
	s.Want("statx missing", e, unix.ENOENT)
	_, e = s.Statx("f/x", 0, unix.STATX_BASIC_STATS)
	s.Want("statx f/x", e, unix.ENOTDIR)
	// A smaller mask still answers; the sync flags change nothing here.
	s.Statx("f", 0, unix.STATX_SIZE)
	s.Statx("f", unix.AT_STATX_DONT_SYNC, unix.STATX_BASIC_STATS)
	s.Statx("f", unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS)
	_, e = s.Statx("f", unix.AT_STATX_DONT_SYNC|unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS)
	s.Want("statx both sync flags", e, unix.EINVAL)
	_, e = s.Statx("f", 0x40000000, unix.STATX_BASIC_STATS)
	s.Want("statx unknown flag", e, unix.EINVAL)
	_, e = s.Statx("f", 0, unix.STATX__RESERVED)
	s.Want("statx reserved mask", e, unix.EINVAL)
	// A change shows in the next answer.
	s.Must("truncate", s.Truncate("f", 3))
	s.Must("chmod", s.Chmod("f", 0o604))
	s.Statx("f", 0, unix.STATX_BASIC_STATS)
}

func caseChmod(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Must("symlink", s.Symlink("f", "l"))
	for _, m := range []uint32{0o600, 0, 0o7777, 0o4755, 0o2755, 0o1644, 0o644} {
		s.Chmod("f", m)
		s.Stat("f")
	}
	for _, m := range []uint32{0o700, 0o1777, 0o2755, 0, 0o755} {
		s.Chmod("d", m)
		s.Stat("d")
	}
	// chmod follows a symlink; the link's own mode stays 0777.
	s.Chmod("l", 0o640)
	s.Stat("f")
	s.Lstat("l")
	s.Want("chmod missing", s.Chmod("missing", 0o644), unix.ENOENT)
	s.Want("chmod f/x", s.Chmod("f/x", 0o644), unix.ENOTDIR)
	// Only ctime moves.
	t := s.Age("f")
	s.Chmod("f", 0o604)
	s.TimesSince("f", t)
	fd, e := s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Fchmod(fd, 0o4711)
	s.Fstat(fd)
	s.Close(fd)
}

func caseChown(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Must("symlink", s.Symlink("f", "l"))
	s.Chown("f", 1000, 2000)
	s.Stat("f")
	s.Chown("f", -1, 2001)
	s.Stat("f")
	s.Chown("f", 1001, -1)
	s.Stat("f")
	t := s.Age("f")
	s.Chown("f", -1, -1)
	s.TimesSince("f", t)
	// chown kills setuid, and setgid when group-executable.
	for _, m := range []uint32{0o6755, 0o2745, 0o4700, 0o2711} {
		s.Chmod("f", m)
		s.Chown("f", 0, 0)
		s.Stat("f")
	}
	// Directories keep their set-id bits.
	s.Chmod("d", 0o6755)
	s.Chown("d", 1000, 1000)
	s.Stat("d")
	// chown follows the link; lchown changes the link.
	s.Chown("l", 1002, 1002)
	s.Stat("f")
	s.Lstat("l")
	s.Lchown("l", 1003, 1003)
	s.Stat("f")
	s.Lstat("l")
	s.Want("chown missing", s.Chown("missing", 0, 0), unix.ENOENT)
	// fchown acts on the open file, as a path stat then shows.
	fd, e := s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Fchown(fd, 1004, 1004)
	s.Fstat(fd)
	s.Close(fd)
	s.Stat("f")
}

func caseTruncate(s *S) {
	const gib = int64(1) << 30
	s.WriteFile("f", "hello world", 0o644)
	s.Truncate("f", 5)
	s.ReadFile("f")
	s.Stat("f")
	s.Truncate("f", 8192) // grows sparse: no blocks
	s.Stat("f")
	s.ReadFile("f")
	s.Truncate("f", 0)
	s.Stat("f")
	s.Truncate("f", 5*gib+3)
	s.Stat("f")
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.Pwrite(fd, []byte("tail"), 5*gib)
	s.Fstat(fd)
	s.Pread(fd, 8, 5*gib-2)
	s.Truncate("f", 4*gib+1)
	s.Fstat(fd)
	s.Pread(fd, 8, 4*gib-4)
	s.Ftruncate(fd, 4*gib+4097)
	s.Pwrite(fd, []byte("z"), 4*gib+4096)
	s.Fstat(fd)
	s.Lseek(fd, 0, unix.SEEK_END)
	s.Ftruncate(fd, 3)
	s.Fstat(fd)
	s.Pread(fd, 16, 0)
	s.Ftruncate(fd, 0)
	s.Fstat(fd)
	s.Want("ftruncate -1", s.Ftruncate(fd, -1), unix.EINVAL)
	s.Close(fd)
	fd, e = s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Ftruncate(fd, 1) // not open for writing
	s.Close(fd)
	s.Want("truncate -1", s.Truncate("f", -1), unix.EINVAL)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Want("truncate dir", s.Truncate("d", 0), unix.EISDIR)
	s.Want("truncate missing", s.Truncate("missing", 0), unix.ENOENT)
	s.Symlink("f", "l")
	s.Truncate("l", 2) // follows the link
	s.Stat("f")
}

func caseTruncateTimes(s *S) {
	s.WriteFile("f", "hello", 0o644)
	for _, size := range []int64{5, 3, 100} {
		t := s.Age("f")
		s.Truncate("f", size)
		s.TimesSince("f", t)
	}
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	for _, size := range []int64{100, 4} {
		t := s.Age("f")
		s.Ftruncate(fd, size)
		s.TimesSince("f", t)
	}
	s.Close(fd)
	t := s.Age("f")
	fd, e = s.Open("f", unix.O_WRONLY|unix.O_TRUNC, 0)
	s.Must("open", e)
	s.TimesSince("f", t)
	s.Close(fd)
	// O_TRUNC of an empty file
	t = s.Age("f")
	fd, e = s.Open("f", unix.O_WRONLY|unix.O_TRUNC, 0)
	s.Must("open", e)
	s.TimesSince("f", t)
	s.Close(fd)
}

func caseUtimensat(s *S) {
	now, omit := unix.Timespec{Nsec: unix.UTIME_NOW}, unix.Timespec{Nsec: unix.UTIME_OMIT}
	t1 := unix.Timespec{Sec: 1234567890, Nsec: 123456789}
	t2 := unix.Timespec{Sec: 1500000000, Nsec: 999999999}
	s.WriteFile("f", "x", 0o644)
	s.Must("symlink", s.Symlink("f", "l"))
	s.Must("mkdir", s.Mkdir("d", 0o755))
	for _, c := range []struct {
		name  string
		times []unix.Timespec
	}{
		{"explicit", []unix.Timespec{t1, t2}},
		{"now-omit", []unix.Timespec{now, omit}},
		{"omit-now", []unix.Timespec{omit, now}},
		{"omit-omit", []unix.Timespec{omit, omit}},
		{"now-now", []unix.Timespec{now, now}},
		{"null", nil},
		{"t1-omit", []unix.Timespec{t1, omit}},
		{"pre-epoch", []unix.Timespec{{Sec: -1, Nsec: 5}, {Sec: -86400 * 365}}},
		{"far-future", []unix.Timespec{{Sec: 1 << 33}, {Sec: 1<<33 + 1, Nsec: 1}}},
		{"bad-nsec", []unix.Timespec{{Sec: 1, Nsec: 1e9}, t1}},
		{"negative-nsec", []unix.Timespec{t1, {Sec: 1, Nsec: -5}}},
	} {
		s.Logf("-- %s", c.name)
		for _, p := range []string{"f", "d"} {
			t := s.Age(p)
			s.Utimens(p, c.times, 0)
			s.TimesSince(p, t)
		}
	}
	// Through a symlink, and on the symlink itself.
	tf, tl := s.Age("f"), s.Age("l")
	s.Utimens("l", []unix.Timespec{t1, t2}, 0)
	s.TimesSince("f", tf)
	s.TimesSince("l", tl)
	tf = s.Age("f")
	s.Utimens("l", []unix.Timespec{t2, t1}, unix.AT_SYMLINK_NOFOLLOW)
	s.TimesSince("f", tf)
	s.TimesSince("l", tl)
	s.Want("utimensat missing", s.Utimens("missing", nil, 0), unix.ENOENT)
	s.Want("utimensat bad flags", s.Utimens("f", nil, 0x4000000), unix.EINVAL)
}
