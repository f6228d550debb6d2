package fsimpl_test

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/posixtest"
)

// fsDoor is the posixtest.Door of fsimpl's *At operations: it applies a
// posixtest operation to fs as a caller with the operation's credential
// would through the supervised door, and describes the result as
// posixtest.Engine does for the same operation on a kernel path, so that
// posixtest.Lockstep can compare it with a tmpfs. It knows the operations
// of posixtest.GenerateNames.
type fsDoor struct {
	fs    *fsimpl.FS
	umask uint32 // what the caller's umask is
}

var _ posixtest.Door = fsDoor{}

func (d fsDoor) Close()               {}
func (d fsDoor) Tree() posixtest.Tree { return fsTree{d.fs} }

func credOf(c *posixtest.Cred) *fsimpl.Cred {
	if c == nil {
		return fsimpl.Root
	}
	return &fsimpl.Cred{UID: c.UID, GID: c.GID, Groups: c.Groups}
}

// at names p for c; follow follows a symlink in the last component.
func (d fsDoor) at(c *fsimpl.Cred, p string, follow bool) *fsimpl.At {
	a := &fsimpl.At{Cred: c, Dir: fsimpl.RootIno, Path: p, Umask: d.umask}
	if follow {
		a.Flags = fsimpl.AtFollow
	}
	return a
}

func res(e unix.Errno) string { return posixtest.ErrnoString(e) }

// statOf is the stat an Attr stands for.
func statOf(a fsimpl.Attr) unix.Stat_t {
	return unix.Stat_t{
		Ino: uint64(a.Ino), Mode: a.Mode, Nlink: uint64(a.Nlink), Uid: a.UID, Gid: a.GID, Rdev: a.Rdev,
		Size: int64(a.Size), Blocks: int64(a.Blocks), Atim: a.Atime, Mtim: a.Mtime, Ctim: a.Ctime,
	}
}

func formatAttr(a fsimpl.Attr) string {
	st := statOf(a)
	return posixtest.FormatStat(&st)
}

// withStat is posixtest.Engine's: a success shows the lstat of paths, as c.
func (d fsDoor) withStat(c *fsimpl.Cred, e unix.Errno, paths ...string) string {
	if e != 0 {
		return res(e)
	}
	var b strings.Builder
	b.WriteString("ok")
	for _, p := range paths {
		if a, e := d.fs.StatAt(d.at(c, p, false)); e != 0 {
			fmt.Fprintf(&b, "; %s: %s", p, res(e))
		} else {
			fmt.Fprintf(&b, "; %s: %s", p, formatAttr(a))
		}
	}
	return b.String()
}

func (d fsDoor) Apply(op posixtest.Op) string {
	c, fs := credOf(op.As), d.fs
	p := op.Path
	switch op.Kind {
	case posixtest.OpMkdir:
		_, e := fs.MkdirAt(d.at(c, p, false), op.Mode)
		return d.withStat(c, e, p)
	case posixtest.OpMknod:
		_, e := fs.MknodAt(d.at(c, p, false), op.Mode, op.Rdev)
		return d.withStat(c, e, p)
	case posixtest.OpSymlink:
		_, e := fs.SymlinkAt(op.Path2, d.at(c, p, false))
		return d.withStat(c, e, p)
	case posixtest.OpLink:
		_, e := fs.LinkAt(d.at(c, op.Path2, false), d.at(c, p, false))
		return d.withStat(c, e, op.Path2, p)
	case posixtest.OpRename:
		e := fs.RenameAt(d.at(c, p, false), d.at(c, op.Path2, false), uint32(op.Flags))
		return d.withStat(c, e, p, op.Path2)
	case posixtest.OpUnlink, posixtest.OpRmdir:
		return res(fs.UnlinkAt(d.at(c, p, false), op.Kind == posixtest.OpRmdir))
	case posixtest.OpReadlink:
		t, e := fs.ReadlinkAt(d.at(c, p, false))
		if e != 0 {
			return res(e)
		}
		return fmt.Sprintf("%q", t[:min(int64(len(t)), op.Len)])
	case posixtest.OpChmod:
		return d.withStat(c, fs.SetAttrAt(d.at(c, p, true), &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: op.Mode}), p)
	case posixtest.OpChown:
		in := fsimpl.SetAttrIn{UID: uint32(op.UID), GID: uint32(op.GID)}
		if op.UID != -1 {
			in.Valid |= fsimpl.SetUID
		}
		if op.GID != -1 {
			in.Valid |= fsimpl.SetGID
		}
		if in.Valid == 0 {
			in.Valid = fsimpl.SetNoopChown
		}
		return d.withStat(c, fs.SetAttrAt(d.at(c, p, !op.NoFollow), &in), p)
	case posixtest.OpTruncate:
		if op.Off < 0 {
			return res(unix.EINVAL)
		}
		return d.withStat(c, fs.SetAttrAt(d.at(c, p, true), &fsimpl.SetAttrIn{Valid: fsimpl.SetSize, Size: uint64(op.Off)}), p)
	case posixtest.OpUtimens:
		return d.utimens(c, op)
	case posixtest.OpAccess:
		return res(fs.AccessAt(d.at(c, p, true), uint32(op.Flags)))
	case posixtest.OpOpenFile, posixtest.OpWriteFile:
		return d.openFile(c, op)
	case posixtest.OpSetxattr:
		return res(fs.SetXattrAt(d.at(c, p, !op.NoFollow), op.Name, posixtest.Data(op.Seed, op.Len), op.Flags))
	case posixtest.OpGetxattr:
		v, e := fs.GetXattrAt(d.at(c, p, !op.NoFollow), op.Name)
		switch {
		case e != 0:
			return res(e)
		case op.Len == 0:
			return fmt.Sprintf("size %d", len(v))
		case int64(len(v)) > op.Len:
			return res(unix.ERANGE)
		}
		return fmt.Sprintf("%d %s", len(v), posixtest.ShortHash(v))
	case posixtest.OpRemovexattr:
		return res(fs.RemoveXattrAt(d.at(c, p, !op.NoFollow), op.Name))
	}
	return fmt.Sprintf("fsDoor cannot %s", op)
}

// utimens sets the times as utimensat does and describes them as
// posixtest.Engine does.
func (d fsDoor) utimens(c *fsimpl.Cred, op posixtest.Op) string {
	in := fsimpl.SetAttrIn{}
	for i, bits := range [2][2]uint32{{fsimpl.SetAtime, fsimpl.SetAtimeNow}, {fsimpl.SetMtime, fsimpl.SetMtimeNow}} {
		switch t := op.Times[i]; t.Nsec {
		case unix.UTIME_NOW:
			in.Valid |= bits[1]
		case unix.UTIME_OMIT:
		default:
			in.Valid |= bits[0]
			if i == 0 {
				in.Atime = t
			} else {
				in.Mtime = t
			}
		}
	}
	if e := d.fs.SetAttrAt(d.at(c, op.Path, !op.NoFollow), &in); e != 0 {
		return res(e)
	}
	a, e := d.fs.StatAt(d.at(c, op.Path, false))
	if e != 0 {
		return "ok; lstat " + res(e)
	}
	out := "ok"
	if op.NoFollow || a.Mode&unix.S_IFMT != unix.S_IFLNK {
		for i, t := range []unix.Timespec{a.Atime, a.Mtime} {
			if op.Times[i].Nsec != unix.UTIME_OMIT {
				out += fmt.Sprintf(" %s=%s", []string{"atime", "mtime"}[i], posixtest.RelTime(t, unix.Timespec{Sec: -1}))
			}
		}
	}
	return out
}

// openFile opens as the supervised door does: a file that is not regular
// is left to the kernel (StepAside), which posixtest reports as
// NotRegular. A write asks for the privilege drop the FUSE kernel module
// asks for (setattr_should_drop_suidgid()).
func (d fsDoor) openFile(c *fsimpl.Cred, op posixtest.Op) string {
	flags, mode := op.Flags, op.Mode
	if op.Kind == posixtest.OpWriteFile {
		flags, mode = unix.O_WRONLY|unix.O_NOFOLLOW, 0
	}
	f, e := d.fs.OpenAt(d.at(c, op.Path, flags&unix.O_NOFOLLOW == 0), flags, mode, false)
	if e == fsimpl.StepAside {
		return posixtest.NotRegular
	} else if e != 0 {
		return res(e)
	}
	defer d.fs.Release(f)
	a, e := d.fs.GetAttr(f.Ino)
	if e != 0 {
		return "fstat " + res(e)
	}
	if op.Kind == posixtest.OpOpenFile {
		return "ok; " + formatAttr(a)
	}
	var killFor *fsimpl.Cred
	if c.UID != 0 && (a.Mode&unix.S_ISUID != 0 ||
		a.Mode&unix.S_ISGID != 0 && (a.Mode&unix.S_IXGRP != 0 || !inGroup(c, a.GID))) {
		killFor = c
	}
	n, e := d.fs.Write(f, posixtest.Data(op.Seed, op.Len), op.Off, killFor)
	if e != 0 {
		n = -1 // what pwrite(2) returns
	}
	if a, e = d.fs.GetAttr(f.Ino); e != 0 {
		return fmt.Sprintf("%d %s; fstat %s", n, res(e), res(e))
	}
	return fmt.Sprintf("%d %s; %s", n, res(e), formatAttr(a))
}

func inGroup(c *fsimpl.Cred, gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// fsTree is the posixtest.Tree of an FS, read as root through the *At
// operations.
type fsTree struct{ fs *fsimpl.FS }

func (t fsTree) at(p string) *fsimpl.At {
	return &fsimpl.At{Cred: fsimpl.Root, Dir: fsimpl.RootIno, Path: p}
}

// errOf turns an errno into an error (0 into nil).
func errOf(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func (t fsTree) Lstat(p string) (unix.Stat_t, error) {
	a, e := t.fs.StatAt(t.at(p))
	return statOf(a), errOf(e)
}

func (t fsTree) Names(p string) ([]string, error) {
	a, e := t.fs.StatAt(t.at(p))
	if e != 0 {
		return nil, e
	}
	var names []string
	e = t.fs.ReadDir(a.Ino, 0, func(d fsimpl.Dirent) bool {
		if d.Name != "." && d.Name != ".." {
			names = append(names, d.Name)
		}
		return true
	})
	sort.Strings(names)
	return names, errOf(e)
}

func (t fsTree) Readlink(p string) (string, error) {
	s, e := t.fs.ReadlinkAt(t.at(p))
	return s, errOf(e)
}

func (t fsTree) ListXattr(p string) ([]string, error) {
	names, e := t.fs.ListXattrAt(t.at(p))
	return names, errOf(e)
}

func (t fsTree) GetXattr(p, name string) ([]byte, error) {
	v, e := t.fs.GetXattrAt(t.at(p), name)
	return v, errOf(e)
}

func (t fsTree) OpenData(p string) (posixtest.DataFile, error) {
	f, e := t.fs.OpenAt(t.at(p), unix.O_RDONLY|unix.O_NOFOLLOW, 0, false)
	if e != 0 {
		return nil, e
	}
	return fsFile{t.fs, f}, nil
}

type fsFile struct {
	fs *fsimpl.FS
	f  *fsimpl.File
}

func (f fsFile) Seek(off int64, whence int) (int64, error) {
	r, e := f.fs.Lseek(f.f, off, whence)
	return r, errOf(e)
}

func (f fsFile) ReadAt(b []byte, off int64) (int, error) {
	n, e := f.fs.Read(f.f, b, off)
	return n, errOf(e)
}

func (f fsFile) Close() error { f.fs.Release(f.f); return nil }
