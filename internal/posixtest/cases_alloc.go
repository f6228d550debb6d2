package posixtest

import (
	"golang.org/x/sys/unix"
)

// Cases of fallocate, SEEK_DATA/SEEK_HOLE, fsync and statfs.
var allocCases = []Case{
	{"fallocate", caseFallocate},
	{"fallocate_errors", caseFallocateErrors},
	{"seek_data_hole", caseSeekDataHole},
	{"fsync", caseFsync},
	{"statfs", caseStatfs},
}

const (
	keepSize  = unix.FALLOC_FL_KEEP_SIZE
	punchHole = unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE
)

func caseFallocate(s *S) {
	fd, e := s.Open("f", unix.O_RDWR|unix.O_CREAT, 0o644)
	s.Must("open", e)
	t := s.Age("f")
	s.Fallocate(fd, 0, 0, 8192)
	s.Fstat(fd)
	s.TimesSince("f", t)
	s.Fallocate(fd, keepSize, 8192, 4096) // blocks beyond the size
	s.Fstat(fd)
	s.Fallocate(fd, 0, 100, 10) // inside: nothing changes
	s.Fstat(fd)
	s.Pwrite(fd, []byte("0123456789"), 4090)
	s.Fallocate(fd, punchHole, 0, 4096)
	s.Fstat(fd)
	s.Pread(fd, 16, 4088)               // punched part reads zeros
	s.Fallocate(fd, punchHole, 4095, 3) // partial page: zeroed, not freed
	s.Pread(fd, 16, 4088)
	s.Fstat(fd)
	s.Fallocate(fd, 0, 5<<30, 4096) // past 4 GiB
	s.Fstat(fd)
	s.Fallocate(fd, keepSize, 6<<30, 4096)
	s.Fstat(fd)
	s.Fallocate(fd, punchHole, 0, 7<<30) // everything
	s.Fstat(fd)
	s.Pread(fd, 8, 5<<30)
	s.Close(fd)
}

func caseFallocateErrors(s *S) {
	s.WriteFile("f", "x", 0o644)
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.Want("len 0", s.Fallocate(fd, 0, 0, 0), unix.EINVAL)
	s.Want("negative offset", s.Fallocate(fd, 0, -1, 10), unix.EINVAL)
	s.Want("punch without keep size", s.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE, 0, 10), unix.EOPNOTSUPP)
	s.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE, 0, 10)
	s.Fallocate(fd, unix.FALLOC_FL_COLLAPSE_RANGE, 0, 4096)
	s.Fallocate(fd, unix.FALLOC_FL_INSERT_RANGE, 0, 4096)
	s.Fallocate(fd, 0x1000, 0, 10)
	s.Fstat(fd)
	s.Close(fd)
	fd, e = s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Want("read-only descriptor", s.Fallocate(fd, 0, 0, 10), unix.EBADF)
	s.Close(fd)
	fd, e = s.Open("f", unix.O_WRONLY|unix.O_APPEND, 0)
	s.Must("open", e)
	s.Fallocate(fd, 0, 0, 100)
	s.Fallocate(fd, punchHole, 0, 1)
	s.Close(fd)
	s.Stat("f")
}

func caseSeekDataHole(s *S) {
	fd, e := s.Open("f", unix.O_RDWR|unix.O_CREAT, 0o644)
	s.Must("open", e)
	s.Lseek(fd, 0, unix.SEEK_DATA) // empty file
	s.Lseek(fd, 0, unix.SEEK_HOLE)
	s.Pwrite(fd, []byte("head"), 0)
	s.Pwrite(fd, []byte("middle"), 1<<20)
	s.Pwrite(fd, []byte("far"), 5<<30)
	s.Ftruncate(fd, 5<<30+1<<20)
	for _, off := range []int64{0, 3, 4096, 1<<20 - 1, 1 << 20, 1<<20 + 4096, 5 << 30, 5<<30 + 4096, 5<<30 + 1<<20, 6 << 30, -1} {
		s.Lseek(fd, off, unix.SEEK_DATA)
		s.Lseek(fd, off, unix.SEEK_HOLE)
	}
	s.Fallocate(fd, keepSize, 2<<20, 8192) // allocated but unwritten
	s.Lseek(fd, 1<<20+4096, unix.SEEK_DATA)
	s.Lseek(fd, 2<<20, unix.SEEK_HOLE)
	s.Close(fd)
}

func caseFsync(s *S) {
	s.WriteFile("f", "x", 0o644)
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.Pwrite(fd, []byte("synced"), 0)
	s.Want("fsync", s.Fsync(fd), 0)
	s.Want("fdatasync", s.Fdatasync(fd), 0)
	s.Close(fd)
	fd, e = s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Want("fsync read-only", s.Fsync(fd), 0)
	s.Close(fd)
	fd, e = s.Open("", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	s.Must("open", e)
	s.Want("fsync dir", s.Fsync(fd), 0)
	s.Close(fd)
}

// caseStatfs records the relations statfs must satisfy, not the numbers.
func caseStatfs(s *S) {
	st, e := s.statfs("")
	s.Must("statfs", e)
	s.Logf("namelen=%d bsize>0=%v frsize>0=%v blocks>=bfree>=bavail=%v files>=ffree=%v",
		st.Namelen, st.Bsize > 0, st.Frsize > 0, st.Blocks >= st.Bfree && st.Bfree >= st.Bavail, st.Files >= st.Ffree)
	s.Check(st.Namelen == 255, "f_namelen %d, want 255", st.Namelen)
	s.WriteFile("f", "", 0o644)
	_, e = s.statfs("f")
	s.Want("statfs on a file", e, 0)
	_, e = s.statfs("missing")
	s.Want("statfs missing", e, unix.ENOENT)
	// Usage shows: 8 MiB of data and 50 inodes.
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.Fallocate(fd, 0, 0, 8<<20)
	s.Close(fd)
	for i := 0; i < 50; i++ {
		mustCreate(s, "n"+string(rune('A'+i)))
	}
	after, e := s.statfs("")
	s.Must("statfs", e)
	used := func(st unix.Statfs_t) uint64 { return (st.Blocks - st.Bfree) * uint64(st.Frsize) }
	s.Logf("bytes used grew by >= 8 MiB: %v; inodes used grew by >= 50: %v",
		used(after) >= used(st)+8<<20, (after.Files-after.Ffree) >= (st.Files-st.Ffree)+50)
}

func (s *S) statfs(p string) (unix.Statfs_t, unix.Errno) {
	var st unix.Statfs_t
	e := Errno(sys.Statfs(s.Path(p), &st))
	s.Logf("statfs %q = %s", p, ErrnoString(e))
	return st, e
}
