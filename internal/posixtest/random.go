package posixtest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"golang.org/x/sys/unix"
)

// Engine applies random operations under one root directory and describes
// each outcome as a string. Two engines given the same operations over
// equal trees must produce equal strings.
type Engine struct {
	root  string
	slots [NumSlots]int // -1: empty
}

// NewEngine prepares root (an existing directory) for a sequence: mode
// 0777 so the users of As can work in it.
func NewEngine(root string) (*Engine, error) {
	if err := sys.Chmod(root, 0o777); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", root, err)
	}
	return OpenEngine(root), nil
}

// OpenEngine runs a sequence in root as it is.
func OpenEngine(root string) *Engine {
	e := &Engine{root: root}
	for i := range e.slots {
		e.slots[i] = -1
	}
	return e
}

// Tree is the tree the engine works on, for a Snapshot.
func (e *Engine) Tree() Tree { return DirTree(e.root) }

// Close closes the descriptors the sequence left open.
func (e *Engine) Close() {
	for i, fd := range e.slots {
		if fd >= 0 {
			sys.Close(fd)
			e.slots[i] = -1
		}
	}
}

func (e *Engine) path(p string) string { return e.root + "/" + p }

// Apply performs op and describes the result.
func (e *Engine) Apply(op Op) string {
	if op.As == nil {
		return e.apply(op)
	}
	var out string
	asCred(*op.As, func() { out = e.apply(op) })
	return out
}

func res(err error) string { return ErrnoString(Errno(err)) }

// withStat appends the lstat of the named paths to a successful result, so
// that a wrong link count or mode shows at the step that caused it.
func (e *Engine) withStat(err error, paths ...string) string {
	if err != nil {
		return res(err)
	}
	var b strings.Builder
	b.WriteString("ok")
	for _, p := range paths {
		var st unix.Stat_t
		if err := sys.Lstat(e.path(p), &st); err != nil {
			fmt.Fprintf(&b, "; %s: %s", p, res(err))
		} else {
			fmt.Fprintf(&b, "; %s: %s", p, FormatStat(&st))
		}
	}
	return b.String()
}

// fd picks the first open descriptor from slot on, cyclically. Which
// slots are open depends on earlier results, but those are equal on both
// sides up to the first mismatch.
func (e *Engine) fd(slot int) (int, string) {
	for i := range e.slots {
		if fd := e.slots[(slot+i)%NumSlots]; fd >= 0 {
			return fd, ""
		}
	}
	return -1, "no descriptor"
}

// Data is the data of a write or an xattr value: n bytes drawn from seed.
func Data(seed uint64, n int64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (e *Engine) apply(op Op) string {
	p := e.path(op.Path)
	switch op.Kind {
	case OpMkdir:
		return e.withStat(sys.Mkdir(p, op.Mode), op.Path)
	case OpRmdir:
		return res(sys.Rmdir(p))
	case OpUnlink:
		return res(sys.Unlink(p))
	case OpMknod:
		return e.withStat(sys.Mknod(p, op.Mode, int(op.Rdev)), op.Path)
	case OpOpen:
		if fd := e.slots[op.Slot]; fd >= 0 {
			sys.Close(fd)
			e.slots[op.Slot] = -1
		}
		// O_NONBLOCK: opening a FIFO must not wait for the other end.
		fd, err := sys.Open(p, op.Flags|unix.O_CLOEXEC|unix.O_NONBLOCK, op.Mode)
		if err != nil {
			return res(err)
		}
		e.slots[op.Slot] = fd
		var st unix.Stat_t
		if err := sys.Fstat(fd, &st); err != nil {
			return "ok; fstat " + res(err)
		}
		return "ok; " + FormatStat(&st)
	case OpOpenFile, OpWriteFile:
		return e.openFile(p, op)
	case OpClose:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		for i := range e.slots {
			if e.slots[i] == fd {
				e.slots[i] = -1
			}
		}
		return res(sys.Close(fd))
	case OpPwrite:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		n, err := sys.Pwrite(fd, Data(op.Seed, op.Len), op.Off)
		return fmt.Sprintf("%d %s; %s", n, res(err), e.fstat(fd))
	case OpPread:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		buf := make([]byte, op.Len)
		n, err := sys.Pread(fd, buf, op.Off)
		if err != nil {
			return res(err)
		}
		return fmt.Sprintf("%d %s", n, ShortHash(buf[:n]))
	case OpTruncate:
		return e.withStat(sys.Truncate(p, op.Off), op.Path)
	case OpFtruncate:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		return res(sys.Ftruncate(fd, op.Off)) + "; " + e.fstat(fd)
	case OpFallocate:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		return res(sys.Fallocate(fd, uint32(op.Flags), op.Off, op.Len)) + "; " + e.fstat(fd)
	case OpLseek:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		// A directory offset is a cookie and SEEK_END/DATA/HOLE on one is
		// the VFS's business (tmpfs refuses them, FUSE directories answer
		// from the size): only rewinding is comparable.
		var st unix.Stat_t
		if sys.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			op.Flags, op.Off = unix.SEEK_SET, 0
		}
		off, err := sys.Seek(fd, op.Off, op.Flags)
		if err != nil {
			return res(err)
		}
		return fmt.Sprint(off)
	case OpFsync:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		return res(sys.Fsync(fd))
	case OpFstat:
		fd, msg := e.fd(op.Slot)
		if fd < 0 {
			return msg
		}
		return e.fstat(fd)
	case OpRename:
		err := sys.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, e.path(op.Path2), uint(op.Flags))
		return e.withStat(err, op.Path, op.Path2)
	case OpLink:
		return e.withStat(sys.Link(e.path(op.Path2), p), op.Path2, op.Path)
	case OpSymlink:
		return e.withStat(sys.Symlink(op.Path2, p), op.Path)
	case OpReadlink:
		buf := make([]byte, op.Len)
		n, err := sys.Readlink(p, buf)
		if err != nil {
			return res(err)
		}
		return fmt.Sprintf("%q", buf[:n])
	case OpChmod:
		return e.withStat(sys.Chmod(p, op.Mode), op.Path)
	case OpChown:
		if op.NoFollow {
			return e.withStat(sys.Lchown(p, op.UID, op.GID), op.Path)
		}
		return e.withStat(sys.Chown(p, op.UID, op.GID), op.Path)
	case OpUtimens:
		return e.utimens(p, op)
	case OpStat, OpLstat:
		var st unix.Stat_t
		var err error
		if op.Kind == OpStat {
			err = sys.Stat(p, &st)
		} else {
			err = sys.Lstat(p, &st)
		}
		if err != nil {
			return res(err)
		}
		return FormatStat(&st)
	case OpAccess:
		return res(sys.Access(p, uint32(op.Flags)))
	case OpReaddir:
		return e.readdir(p)
	}
	return e.applyXattr(p, op)
}

// openFile performs OpOpenFile and OpWriteFile.
func (e *Engine) openFile(p string, op Op) string {
	flags, mode := op.Flags, op.Mode
	if op.Kind == OpWriteFile {
		flags, mode = unix.O_WRONLY|unix.O_NOFOLLOW, 0
	}
	fd, err := sys.Open(p, flags|unix.O_CLOEXEC|unix.O_NONBLOCK, mode)
	if err == unix.ENXIO || err == unix.ENODEV {
		return NotRegular // a socket, a FIFO without reader, a device without driver
	} else if err != nil {
		return res(err)
	}
	defer sys.Close(fd)
	var st unix.Stat_t
	if err := sys.Fstat(fd, &st); err != nil {
		return "fstat " + res(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return NotRegular
	}
	if op.Kind == OpOpenFile {
		return "ok; " + FormatStat(&st)
	}
	n, err := sys.Pwrite(fd, Data(op.Seed, op.Len), op.Off)
	return fmt.Sprintf("%d %s; %s", n, res(err), e.fstat(fd))
}

// NotRegular is the result of OpOpenFile and OpWriteFile on anything but a
// regular file, whatever the errno of the open.
const NotRegular = "not regular"

func (e *Engine) fstat(fd int) string {
	var st unix.Stat_t
	if err := sys.Fstat(fd, &st); err != nil {
		return "fstat " + res(err)
	}
	return FormatStat(&st)
}

func (e *Engine) utimens(p string, op Op) string {
	flags := 0
	if op.NoFollow {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	if err := sys.UtimesNanoAt(unix.AT_FDCWD, p, op.Times[:], flags); err != nil {
		return res(err)
	}
	var st unix.Stat_t
	if err := sys.Lstat(p, &st); err != nil {
		return "ok; lstat " + res(err)
	}
	// Only the times this call set are meaningful; others may be anything.
	out := "ok"
	if op.NoFollow || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		for i, t := range []unix.Timespec{st.Atim, st.Mtim} {
			if op.Times[i].Nsec != unix.UTIME_OMIT {
				out += fmt.Sprintf(" %s=%s", []string{"atime", "mtime"}[i], RelTime(t, unix.Timespec{Sec: -1}))
			}
		}
	}
	return out
}

func (e *Engine) readdir(p string) string {
	fd, err := sys.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return res(err)
	}
	defer sys.Close(fd)
	ents, en := ReadDirents(fd, 4096)
	if en != 0 {
		return ErrnoString(en)
	}
	var names []string
	for _, d := range ents {
		names = append(names, fmt.Sprintf("%q:%s", d.Name, direntType(d.Type)))
	}
	return strings.Join(sortedLines(names), " ")
}

func (e *Engine) applyXattr(p string, op Op) string {
	switch op.Kind {
	case OpSetxattr:
		val := Data(op.Seed, op.Len)
		var err error
		if op.NoFollow {
			err = sys.Lsetxattr(p, op.Name, val, op.Flags)
		} else {
			err = sys.Setxattr(p, op.Name, val, op.Flags)
		}
		return res(err)
	case OpGetxattr:
		buf := make([]byte, op.Len)
		var n int
		var err error
		if op.NoFollow {
			n, err = sys.Lgetxattr(p, op.Name, buf)
		} else {
			n, err = sys.Getxattr(p, op.Name, buf)
		}
		switch {
		case err != nil:
			return res(err)
		case op.Len == 0:
			return fmt.Sprintf("size %d", n)
		}
		return fmt.Sprintf("%d %s", n, ShortHash(buf[:n]))
	case OpListxattr:
		buf := make([]byte, op.Len)
		var n int
		var err error
		if op.NoFollow {
			n, err = sys.Llistxattr(p, buf)
		} else {
			n, err = sys.Listxattr(p, buf)
		}
		switch {
		case err != nil:
			return res(err)
		case op.Len == 0:
			return fmt.Sprintf("size %d", n)
		}
		return fmt.Sprintf("%q", splitXattrList(buf[:n]))
	case OpRemovexattr:
		if op.NoFollow {
			return res(sys.Lremovexattr(p, op.Name))
		}
		return res(sys.Removexattr(p, op.Name))
	}
	return fmt.Sprintf("unknown op %d", op.Kind)
}
