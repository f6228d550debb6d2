package posixtest

import (
	"fmt"
	"math/rand/v2"

	"golang.org/x/sys/unix"
)

// Cases of open and creat, and of reading and writing at any offset.
var openCases = []Case{
	{"open_create", caseOpenCreate},
	{"open_errors", caseOpenErrors},
	{"open_access_modes", caseOpenAccessModes},
	{"open_append", caseOpenAppend},
	{"rw_offsets", caseRWOffsets},
	{"rw_large_offsets", caseRWLargeOffsets},
	{"rw_big_buffer", caseRWBigBuffer},
	{"rw_times", caseRWTimes},
	{"unlinked_open_file", caseUnlinkedOpenFile},
}

func caseOpenCreate(s *S) {
	const excl = unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY
	t := s.Age("")
	fd, e := s.Open("f", excl, 0o640)
	s.Want("create new", e, 0)
	s.TimesSince("", t) // the directory changed
	s.Fstat(fd)
	s.Close(fd)
	_, e = s.Open("f", excl, 0o640)
	s.Want("O_EXCL on existing", e, unix.EEXIST)
	fd, e = s.Open("f", unix.O_CREAT|unix.O_RDWR, 0o600) // exists: mode unchanged
	s.Want("O_CREAT on existing", e, 0)
	s.Write(fd, []byte("content"))
	s.Close(fd)
	s.Stat("f")
	for _, m := range []uint32{0o777, 0o4755, 0o1600, 0} {
		fd, e = s.Open(fmt.Sprintf("m%04o", m), excl, m)
		if e == 0 {
			s.Fstat(fd)
			s.Close(fd)
		}
	}
	fd, e = s.Open("f", unix.O_WRONLY|unix.O_TRUNC, 0)
	s.Must("open O_TRUNC", e)
	s.Fstat(fd)
	s.Close(fd)
	s.WriteFile("f", "again", 0o644)
	fd, e = s.Open("f", unix.O_RDONLY|unix.O_TRUNC, 0) // Linux truncates here too
	s.Must("open O_RDONLY|O_TRUNC", e)
	s.Fstat(fd)
	s.Close(fd)
	// O_CREAT through a dangling symlink creates the target; with O_EXCL
	// it fails on the link itself.
	s.Must("symlink", s.Symlink("target", "dangling"))
	_, e = s.Open("dangling", excl, 0o644)
	s.Want("O_EXCL on dangling symlink", e, unix.EEXIST)
	fd, e = s.Open("dangling", unix.O_CREAT|unix.O_WRONLY, 0o644)
	s.Want("O_CREAT through dangling symlink", e, 0)
	if e == 0 {
		s.Close(fd)
	}
	s.Lstat("target")
	s.Readdir("")
}

func caseOpenErrors(s *S) {
	s.WriteFile("f", "data", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Must("symlink", s.Symlink("f", "l"))
	s.Must("symlink", s.Symlink("d", "ld"))
	for _, c := range []struct {
		path  string
		flags int
		want  unix.Errno
	}{
		{"d", unix.O_WRONLY, unix.EISDIR},
		{"d", unix.O_RDWR, unix.EISDIR},
		{"d", unix.O_CREAT | unix.O_RDONLY, unix.EISDIR},
		{"d", unix.O_CREAT | unix.O_EXCL | unix.O_RDONLY, unix.EEXIST},
		{"d", unix.O_RDONLY, 0},
		{"d", unix.O_RDONLY | unix.O_DIRECTORY, 0},
		{"f", unix.O_RDONLY | unix.O_DIRECTORY, unix.ENOTDIR},
		{"f/x", unix.O_RDONLY, unix.ENOTDIR},
		{"f/", unix.O_RDONLY, unix.ENOTDIR},
		{"f/x", unix.O_CREAT | unix.O_WRONLY, unix.ENOTDIR},
		{"missing", unix.O_RDONLY, unix.ENOENT},
		{"missing/x", unix.O_CREAT | unix.O_WRONLY, unix.ENOENT},
		{"new/", unix.O_CREAT | unix.O_WRONLY, unix.EISDIR},
		{"l", unix.O_RDONLY | unix.O_NOFOLLOW, unix.ELOOP},
		{"l", unix.O_RDONLY, 0},
		{"ld", unix.O_RDONLY | unix.O_DIRECTORY, 0},
		{"ld", unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW, unix.ENOTDIR},
		{"l", unix.O_PATH | unix.O_NOFOLLOW, 0},
		{"f", unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_DIRECTORY, unix.EINVAL},
	} {
		fd, e := s.Open(c.path, c.flags, 0o644)
		s.Want("open "+c.path+" "+FormatOpenFlags(c.flags), e, c.want)
		if e == 0 {
			s.Fstat(fd)
			s.Close(fd)
		}
	}
}

func caseOpenAccessModes(s *S) {
	s.WriteFile("f", "0123456789", 0o644)
	for _, mode := range []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR} {
		fd, e := s.Open("f", mode, 0)
		s.Must("open", e)
		_, e = s.Pread(fd, 4, 2)
		if mode == unix.O_WRONLY {
			s.Want("read on O_WRONLY", e, unix.EBADF)
		}
		_, e = s.Pwrite(fd, []byte("ab"), 3)
		if mode == unix.O_RDONLY {
			s.Want("write on O_RDONLY", e, unix.EBADF)
		}
		s.Ftruncate(fd, 10)
		s.Fallocate(fd, 0, 0, 16)
		s.Close(fd)
		s.ReadFile("f")
	}
	fd, e := s.Open("f", unix.O_PATH, 0)
	s.Must("open O_PATH", e)
	s.Pread(fd, 1, 0)
	s.Fstat(fd)
	s.Close(fd)
}

func caseOpenAppend(s *S) {
	s.WriteFile("f", "start", 0o644)
	fd, e := s.Open("f", unix.O_WRONLY|unix.O_APPEND, 0)
	s.Must("open", e)
	s.Lseek(fd, 0, unix.SEEK_SET)
	s.Write(fd, []byte("+one"))
	s.Lseek(fd, 0, unix.SEEK_CUR)
	s.Pwrite(fd, []byte("+two"), 0) // Linux appends even for pwrite
	other, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.Pwrite(other, []byte("XX"), 0)
	s.Write(other, []byte("YYYYYYYYYYYYYYYYYYYY")) // extends past the append end
	s.Write(fd, []byte("+three"))
	s.Close(other)
	s.Close(fd)
	s.ReadFile("f")
	fd, e = s.Open("f", unix.O_RDWR|unix.O_APPEND|unix.O_TRUNC, 0)
	s.Must("open", e)
	s.Write(fd, []byte("fresh"))
	s.Pread(fd, 10, 0)
	s.Close(fd)
}

func caseRWOffsets(s *S) {
	fd, e := s.Open("f", unix.O_RDWR|unix.O_CREAT, 0o644)
	s.Must("open", e)
	s.Write(fd, []byte("hello"))
	s.Lseek(fd, 0, unix.SEEK_CUR)
	s.Pread(fd, 5, 0)
	s.Pread(fd, 10, 3)
	s.Pread(fd, 10, 5)
	s.Pread(fd, 10, 1000)
	s.Pwrite(fd, []byte("world"), 1<<20)
	s.Fstat(fd)
	s.Pread(fd, 16, 1<<20-8)
	s.Pread(fd, 16, 4096)
	s.Pwrite(fd, []byte("mid"), 3000)
	s.Pread(fd, 8, 2998)
	s.Pwrite(fd, []byte("neg"), -1)
	s.Pread(fd, 1, -1)
	s.Lseek(fd, -1, unix.SEEK_SET)
	s.Lseek(fd, 10, unix.SEEK_END)
	s.Write(fd, []byte("after-end"))
	s.Fstat(fd)
	s.Lseek(fd, 0, unix.SEEK_SET)
	s.Read(fd, 3)
	s.Read(fd, 3)
	s.Lseek(fd, -2, unix.SEEK_CUR)
	s.Read(fd, 4)
	s.Pwrite(fd, nil, 50)
	s.Close(fd)
	// What one descriptor wrote, another reads.
	fd, e = s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Pread(fd, 12, 1<<20-4)
	s.Close(fd)
}

func caseRWLargeOffsets(s *S) {
	const gib = int64(1) << 30
	fd, e := s.Open("big", unix.O_RDWR|unix.O_CREAT, 0o644)
	s.Must("open", e)
	s.Pwrite(fd, []byte("across"), 4*gib-3) // straddles 4 GiB
	s.Fstat(fd)
	s.Pread(fd, 10, 4*gib-5)
	s.Pwrite(fd, []byte("far"), 5*gib+7)
	s.Fstat(fd)
	s.Pread(fd, 10, 5*gib+5)
	s.Pread(fd, 10, 1<<40)
	s.Pread(fd, 4, 2*gib) // a hole reads as zeros
	s.Lseek(fd, 0, unix.SEEK_END)
	s.Lseek(fd, 1<<40, unix.SEEK_SET)
	s.Write(fd, []byte("1TiB"))
	s.Fstat(fd)
	s.Pread(fd, 8, 1<<40-2)
	s.Close(fd)
	// Every data region, wherever it lies.
	fd, e = s.Open("big", unix.O_RDONLY, 0)
	s.Must("open", e)
	off := int64(0)
	for i := 0; i < 8; i++ {
		d, e := s.Lseek(fd, off, unix.SEEK_DATA)
		if e != 0 {
			break
		}
		h, e := s.Lseek(fd, d, unix.SEEK_HOLE)
		if e != 0 {
			break
		}
		off = h
	}
	s.Close(fd)
}

func caseRWBigBuffer(s *S) {
	data := make([]byte, 3<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	fd, e := s.Open("f", unix.O_RDWR|unix.O_CREAT, 0o644)
	s.Must("open", e)
	s.Pwrite(fd, data, 777)
	s.Fstat(fd)
	s.Pread(fd, len(data)+1000, 0)
	s.Pread(fd, 1<<20, 1<<20+5)
	s.Close(fd)
	s.ReadFile("f")
}

func caseRWTimes(s *S) {
	s.WriteFile("f", "hello", 0o644)
	t := s.Age("f")
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.TimesSince("f", t) // open alone changes nothing
	s.Pread(fd, 5, 0)
	s.TimesSince("f", t) // read marks atime
	t = s.Age("f")
	s.Pwrite(fd, []byte("J"), 0)
	s.TimesSince("f", t) // write marks mtime and ctime
	t = s.Age("f")
	s.Pwrite(fd, nil, 0) // nothing written, nothing marked
	s.TimesSince("f", t)
	s.Close(fd)
	s.TimesSince("f", t)
}

func caseUnlinkedOpenFile(s *S) {
	s.WriteFile("f", "still here", 0o644)
	fd, e := s.Open("f", unix.O_RDWR, 0)
	s.Must("open", e)
	s.Unlink("f")
	s.Fstat(fd)
	s.Pread(fd, 20, 0)
	s.Pwrite(fd, []byte("!"), 10)
	s.Ftruncate(fd, 5000)
	s.Fstat(fd)
	s.Fchmod(fd, 0o600)
	s.Fstat(fd)
	s.Readdir("")
	// A new file with the same name is another file.
	s.WriteFile("f", "new", 0o644)
	s.Pread(fd, 11, 0)
	s.ReadFile("f")
	s.Close(fd)
}
