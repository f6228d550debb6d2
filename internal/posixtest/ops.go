package posixtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// This file holds the recording wrappers: one syscall each, on a path
// relative to S.Dir, with the outcome appended to the transcript. Descriptor
// numbers are never recorded; they differ between runs.

func (s *S) rec(e unix.Errno, format string, args ...any) unix.Errno {
	s.Logf("%s = %s", fmt.Sprintf(format, args...), ErrnoString(e))
	return e
}

func (s *S) Mkdir(p string, mode uint32) unix.Errno {
	return s.rec(Errno(sys.Mkdir(s.Path(p), mode)), "mkdir %q %04o", p, mode)
}

func (s *S) Rmdir(p string) unix.Errno {
	return s.rec(Errno(sys.Rmdir(s.Path(p))), "rmdir %q", p)
}

func (s *S) Unlink(p string) unix.Errno {
	return s.rec(Errno(sys.Unlink(s.Path(p))), "unlink %q", p)
}

func (s *S) Mknod(p string, mode uint32, dev int) unix.Errno {
	return s.rec(Errno(sys.Mknod(s.Path(p), mode, dev)), "mknod %q %o %d", p, mode, dev)
}

// Open opens p; the descriptor is closed when the case ends if the case
// does not close it.
func (s *S) Open(p string, flags int, mode uint32) (int, unix.Errno) {
	fd, err := sys.Open(s.Path(p), flags|unix.O_CLOEXEC, mode)
	e := s.rec(Errno(err), "open %q %s %04o", p, FormatOpenFlags(flags), mode)
	if e != 0 {
		return -1, e
	}
	s.fds[fd] = true
	return fd, 0
}

func (s *S) Close(fd int) unix.Errno {
	delete(s.fds, fd)
	return s.rec(Errno(sys.Close(fd)), "close")
}

// WriteFile creates or truncates p with mode and writes data; the scene
// setter of most cases. It ends the case on failure.
func (s *S) WriteFile(p string, data string, mode uint32) {
	fd, e := s.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, mode)
	s.Must("create "+p, e)
	if data != "" {
		_, e = s.Write(fd, []byte(data))
		s.Must("write "+p, e)
	}
	s.Must("close "+p, s.Close(fd))
}

func (s *S) recStat(what string, st *unix.Stat_t, err error) (unix.Stat_t, unix.Errno) {
	e := Errno(err)
	if e != 0 {
		s.Logf("%s = %s", what, ErrnoString(e))
		return unix.Stat_t{}, e
	}
	s.Logf("%s = %s", what, FormatStat(st))
	return *st, 0
}

func (s *S) Stat(p string) (unix.Stat_t, unix.Errno) {
	var st unix.Stat_t
	err := sys.Stat(s.Path(p), &st)
	return s.recStat(fmt.Sprintf("stat %q", p), &st, err)
}

func (s *S) Lstat(p string) (unix.Stat_t, unix.Errno) {
	var st unix.Stat_t
	err := sys.Lstat(s.Path(p), &st)
	return s.recStat(fmt.Sprintf("lstat %q", p), &st, err)
}

func (s *S) Fstat(fd int) (unix.Stat_t, unix.Errno) {
	var st unix.Stat_t
	err := sys.Fstat(fd, &st)
	return s.recStat("fstat", &st, err)
}

// Statx records statx(2) of p at AT_FDCWD: the fields of FormatStat, and
// whether the answer claims every basic field that mask asked for.
func (s *S) Statx(p string, flags, mask int) (unix.Statx_t, unix.Errno) {
	var stx unix.Statx_t
	e := Errno(sys.Statx(s.Path(p), flags, mask, &stx))
	what := fmt.Sprintf("statx %q flags=%#x mask=%#x", p, flags, mask)
	if e != 0 {
		s.Logf("%s = %s", what, ErrnoString(e))
		return unix.Statx_t{}, e
	}
	s.Logf("%s = %s", what, FormatStatx(&stx, mask))
	return stx, 0
}

// FormatStatx renders what FormatStat renders of a statx answer, and
// "complete" when its mask has every basic field (STATX_BASIC_STATS) of
// mask, the request's. Fields beyond the request are the filesystem's
// choice (tmpfs answers a STATX_SIZE request with less than FUSE does).
func FormatStatx(stx *unix.Statx_t, mask int) string {
	st := unix.Stat_t{Mode: uint32(stx.Mode), Nlink: uint64(stx.Nlink), Uid: stx.Uid, Gid: stx.Gid,
		Size: int64(stx.Size), Blocks: int64(stx.Blocks), Rdev: unix.Mkdev(stx.Rdev_major, stx.Rdev_minor)}
	out := FormatStat(&st)
	if want := uint32(mask) & unix.STATX_BASIC_STATS; stx.Mask&want == want {
		out += " complete"
	}
	return out
}

func (s *S) Access(p string, mode uint32) unix.Errno {
	return s.rec(Errno(sys.Access(s.Path(p), mode)), "access %q %o", p, mode)
}

func (s *S) Chmod(p string, mode uint32) unix.Errno {
	return s.rec(Errno(sys.Chmod(s.Path(p), mode)), "chmod %q %04o", p, mode)
}

func (s *S) Fchmod(fd int, mode uint32) unix.Errno {
	return s.rec(Errno(sys.Fchmod(fd, mode)), "fchmod %04o", mode)
}

// Chown follows symlinks; Lchown does not. -1 leaves an id unchanged.
func (s *S) Chown(p string, uid, gid int) unix.Errno {
	return s.rec(Errno(sys.Chown(s.Path(p), uid, gid)), "chown %q %d %d", p, uid, gid)
}

func (s *S) Fchown(fd int, uid, gid int) unix.Errno {
	return s.rec(Errno(sys.Fchown(fd, uid, gid)), "fchown %d %d", uid, gid)
}

func (s *S) Lchown(p string, uid, gid int) unix.Errno {
	return s.rec(Errno(sys.Lchown(s.Path(p), uid, gid)), "lchown %q %d %d", p, uid, gid)
}

func (s *S) Truncate(p string, size int64) unix.Errno {
	return s.rec(Errno(sys.Truncate(s.Path(p), size)), "truncate %q %d", p, size)
}

func (s *S) Ftruncate(fd int, size int64) unix.Errno {
	return s.rec(Errno(sys.Ftruncate(fd, size)), "ftruncate %d", size)
}

// Utimens calls utimensat; nil times means both UTIME_NOW.
func (s *S) Utimens(p string, times []unix.Timespec, flags int) unix.Errno {
	err := sys.UtimesNanoAt(unix.AT_FDCWD, s.Path(p), times, flags)
	return s.rec(Errno(err), "utimensat %q %s flags=%#x", p, formatTimes(times), flags)
}

func formatTimes(ts []unix.Timespec) string {
	if ts == nil {
		return "NULL"
	}
	var parts []string
	for _, t := range ts {
		switch t.Nsec {
		case unix.UTIME_NOW:
			parts = append(parts, "UTIME_NOW")
		case unix.UTIME_OMIT:
			parts = append(parts, "UTIME_OMIT")
		default:
			parts = append(parts, fmt.Sprintf("%d.%09d", t.Sec, t.Nsec))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

var renameFlagNames = map[uint]string{
	0: "0", unix.RENAME_NOREPLACE: "RENAME_NOREPLACE", unix.RENAME_EXCHANGE: "RENAME_EXCHANGE",
	unix.RENAME_NOREPLACE | unix.RENAME_EXCHANGE: "RENAME_NOREPLACE|RENAME_EXCHANGE",
	unix.RENAME_WHITEOUT:                         "RENAME_WHITEOUT",
}

func (s *S) Rename(from, to string, flags uint) unix.Errno {
	err := sys.Renameat2(unix.AT_FDCWD, s.Path(from), unix.AT_FDCWD, s.Path(to), flags)
	return s.rec(Errno(err), "rename %q %q %s", from, to, renameFlagNames[flags])
}

func (s *S) Link(from, to string) unix.Errno {
	return s.rec(Errno(sys.Link(s.Path(from), s.Path(to))), "link %q %q", from, to)
}

func (s *S) Symlink(target, p string) unix.Errno {
	return s.rec(Errno(sys.Symlink(target, s.Path(p))), "symlink %q %q", target, p)
}

func (s *S) Readlink(p string) (string, unix.Errno) {
	buf := make([]byte, unix.PathMax+1)
	n, err := sys.Readlink(s.Path(p), buf)
	e := Errno(err)
	if e != 0 {
		s.Logf("readlink %q = %s", p, ErrnoString(e))
		return "", e
	}
	s.Logf("readlink %q = %q", p, buf[:n])
	return string(buf[:n]), 0
}

func (s *S) Write(fd int, data []byte) (int, unix.Errno) {
	n, err := sys.Write(fd, data)
	e := Errno(err)
	s.Logf("write %s = %d %s", Summary(data), n, ErrnoString(e))
	return n, e
}

func (s *S) Pwrite(fd int, data []byte, off int64) (int, unix.Errno) {
	n, err := sys.Pwrite(fd, data, off)
	e := Errno(err)
	s.Logf("pwrite %s @%d = %d %s", Summary(data), off, n, ErrnoString(e))
	return n, e
}

func (s *S) Read(fd int, n int) ([]byte, unix.Errno) {
	buf := make([]byte, n)
	got, err := sys.Read(fd, buf)
	return s.recRead(fmt.Sprintf("read %d", n), buf, got, err)
}

func (s *S) Pread(fd int, n int, off int64) ([]byte, unix.Errno) {
	buf := make([]byte, n)
	got, err := sys.Pread(fd, buf, off)
	return s.recRead(fmt.Sprintf("pread %d @%d", n, off), buf, got, err)
}

func (s *S) recRead(what string, buf []byte, n int, err error) ([]byte, unix.Errno) {
	e := Errno(err)
	if e != 0 {
		s.Logf("%s = %s", what, ErrnoString(e))
		return nil, e
	}
	s.Logf("%s = %s", what, Summary(buf[:n]))
	return buf[:n], 0
}

// ReadFile records the whole contents of p.
func (s *S) ReadFile(p string) ([]byte, unix.Errno) {
	fd, err := sys.Open(s.Path(p), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, s.rec(Errno(err), "readfile %q", p)
	}
	defer sys.Close(fd)
	var out []byte
	buf := make([]byte, 1<<16)
	for {
		n, err := sys.Read(fd, buf)
		if err != nil {
			return nil, s.rec(Errno(err), "readfile %q", p)
		}
		if n == 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	s.Logf("readfile %q = %s", p, Summary(out))
	return out, 0
}

var whenceNames = map[int]string{
	unix.SEEK_SET: "SEEK_SET", unix.SEEK_CUR: "SEEK_CUR", unix.SEEK_END: "SEEK_END",
	unix.SEEK_DATA: "SEEK_DATA", unix.SEEK_HOLE: "SEEK_HOLE",
}

func (s *S) Lseek(fd int, off int64, whence int) (int64, unix.Errno) {
	got, err := sys.Seek(fd, off, whence)
	e := Errno(err)
	if e != 0 {
		s.Logf("lseek %d %s = %s", off, whenceNames[whence], ErrnoString(e))
		return -1, e
	}
	s.Logf("lseek %d %s = %d", off, whenceNames[whence], got)
	return got, 0
}

func (s *S) Fallocate(fd int, mode uint32, off, length int64) unix.Errno {
	return s.rec(Errno(sys.Fallocate(fd, mode, off, length)), "fallocate mode=%#x @%d len=%d", mode, off, length)
}

func (s *S) Fsync(fd int) unix.Errno     { return s.rec(Errno(sys.Fsync(fd)), "fsync") }
func (s *S) Fdatasync(fd int) unix.Errno { return s.rec(Errno(sys.Fdatasync(fd)), "fdatasync") }

// Readdir records the sorted entries of directory p with their d_type,
// "." and ".." included, read with getdents64.
func (s *S) Readdir(p string) ([]string, unix.Errno) {
	fd, err := sys.Open(s.Path(p), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, s.rec(Errno(err), "readdir %q", p)
	}
	defer sys.Close(fd)
	ents, e := ReadDirents(fd, 4096)
	if e != 0 {
		return nil, s.rec(e, "readdir %q", p)
	}
	var names []string
	for _, d := range ents {
		names = append(names, fmt.Sprintf("%q:%s", d.Name, direntType(d.Type)))
	}
	sort.Strings(names)
	s.Logf("readdir %q = %s", p, strings.Join(names, " "))
	return names, 0
}

// ShortHash names data by the first 8 bytes of its SHA-256, in hex.
func ShortHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
