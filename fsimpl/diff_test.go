package fsimpl

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The differential test runs the same random operation sequence, with a
// mix of credentials, against a real tmpfs (the reference) and against
// fsimpl, and compares every errno and, every few steps, the whole tree.

// diffOp is one operation on paths relative to the filesystem root.
type diffOp struct {
	c     *Cred
	kind  string
	p, p2 string
	mode  uint32
	flags int
	n     uint64
	xname string
}

func (o diffOp) String() string {
	return fmt.Sprintf("uid %d: %s %q %q mode %o flags %#x n %d %s", o.c.UID, o.kind, o.p, o.p2, o.mode, o.flags, o.n, o.xname)
}

// danglingTarget is the target of every symlink in the sequences: it never
// exists, so operations that follow links get ENOENT on both sides.
const danglingTarget = "nowhere-at-all"

// realFS runs operations on a kernel filesystem whose root directory is
// open as fd, each in a fresh locked OS thread that takes on the credential
// (fsuid, fsgid, groups, no effective capabilities for non-root) and dies
// afterwards. Paths go through /proc/self/fd/N so that the directories
// above the mount (0700 test temp dirs) are not searched.
type realFS struct{ fd int }

func (r realFS) run(c *Cred, fn func() error) unix.Errno {
	ch := make(chan unix.Errno)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		if c.UID != 0 {
			if e := becomeUser(c); e != nil {
				ch <- errnoOf(e) | 1<<30
				return
			}
		}
		ch <- errnoOf(fn())
	}()
	return <-ch
}

// becomeUser switches the calling thread to c and drops its effective
// capabilities.
func becomeUser(c *Cred) error {
	groups := make([]int, len(c.Groups))
	for i, g := range c.Groups {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil {
		return err
	}
	if err := unix.Setfsgid(int(c.GID)); err != nil {
		return err
	}
	if err := unix.Setfsuid(int(c.UID)); err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective, data[1].Effective = 0, 0
	return unix.Capset(&hdr, &data[0])
}

func (r realFS) path(p string) string { return fmt.Sprintf("/proc/self/fd/%d/%s", r.fd, p) }

func (r realFS) do(o diffOp) (string, unix.Errno) {
	var out string
	e := r.run(o.c, func() error {
		p, p2 := r.path(o.p), r.path(o.p2)
		switch o.kind {
		case "mkdir":
			return unix.Mkdir(p, o.mode)
		case "mknod":
			return unix.Mknod(p, o.mode, int(o.n))
		case "open":
			fd, err := unix.Open(p, o.flags|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, o.mode)
			if err != nil {
				if err == unix.ENXIO || err == unix.ENODEV {
					return unix.EINVAL // not a regular file: fsimpl leaves it to the door
				}
				return err
			}
			defer unix.Close(fd)
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				return unix.EINVAL
			}
			return nil
		case "write":
			fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
			if err != nil {
				if err == unix.ENXIO || err == unix.ENODEV {
					return unix.EINVAL
				}
				return err
			}
			defer unix.Close(fd)
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				return unix.EINVAL
			}
			_, err = unix.Pwrite(fd, []byte("xyz"), int64(o.n))
			return err
		case "unlink":
			return unix.Unlink(p)
		case "rmdir":
			return unix.Rmdir(p)
		case "rename":
			return unix.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, p2, uint(o.flags))
		case "link":
			return unix.Linkat(unix.AT_FDCWD, p, unix.AT_FDCWD, p2, 0)
		case "symlink":
			return unix.Symlink(danglingTarget, p)
		case "readlink":
			buf := make([]byte, 256)
			n, err := unix.Readlink(p, buf)
			if err == nil {
				out = string(buf[:n])
			}
			return err
		case "chmod":
			return unix.Chmod(p, o.mode)
		case "chown":
			return unix.Lchown(p, int(o.n>>32), int(uint32(o.n)))
		case "truncate":
			return unix.Truncate(p, int64(o.n))
		case "utimens":
			return unix.UtimesNanoAt(unix.AT_FDCWD, p, diffTimes(o.flags), unix.AT_SYMLINK_NOFOLLOW)
		case "setxattr":
			return unix.Lsetxattr(p, o.xname, []byte("v"), o.flags)
		case "getxattr":
			buf := make([]byte, 64)
			n, err := unix.Lgetxattr(p, o.xname, buf)
			if err == nil {
				out = string(buf[:n])
			}
			return err
		case "removexattr":
			return unix.Lremovexattr(p, o.xname)
		case "access":
			return unix.Faccessat(unix.AT_FDCWD, p, o.mode, unix.AT_EACCESS)
		}
		return errors.New("unknown op " + o.kind)
	})
	return out, e
}

// diffTimes maps a selector to utimensat's times: 0 both now (touch), 1
// explicit, 2 mtime now and atime omitted.
func diffTimes(sel int) []unix.Timespec {
	switch sel {
	case 0:
		return []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	case 1:
		return []unix.Timespec{{Sec: 1000}, {Sec: 2000}}
	default:
		return []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}
	}
}

// fsimplDo runs o against fs through its *At operations, as o.c.
func fsimplDo(tb testing.TB, fs *FS, o diffOp) (string, unix.Errno) {
	c := o.c
	at := func(p string, follow bool) *At {
		a := &At{Cred: c, Dir: RootIno, Path: p}
		if follow {
			a.Flags = AtFollow
		}
		return a
	}
	// node resolves p for the operations that take an inode.
	node := func(p string, follow bool) (Ino, unix.Errno) {
		a, e := fs.StatAt(at(p, follow))
		return a.Ino, e
	}
	var out string
	var e unix.Errno
	switch o.kind {
	case "mkdir":
		_, e = fs.MkdirAt(at(o.p, false), o.mode)
	case "mknod":
		_, e = fs.MknodAt(at(o.p, false), o.mode, o.n)
	case "symlink":
		_, e = fs.SymlinkAt(danglingTarget, at(o.p, false))
	case "open":
		var f *File
		if f, e = fs.OpenAt(at(o.p, false), o.flags|unix.O_NOFOLLOW, o.mode, false); e == 0 {
			fs.Release(f)
		}
		if e == StepAside {
			e = unix.EINVAL // the reference's word for "not a regular file"
		}
	case "unlink", "rmdir":
		e = fs.UnlinkAt(at(o.p, false), o.kind == "rmdir")
	case "link":
		_, e = fs.LinkAt(at(o.p, false), at(o.p2, false))
	case "rename":
		e = fs.RenameAt(at(o.p, false), at(o.p2, false), uint32(o.flags))
	case "readlink":
		out, e = fs.ReadlinkAt(at(o.p, false))
	case "write":
		var f *File
		if f, e = fs.OpenAt(at(o.p, false), unix.O_WRONLY|unix.O_NOFOLLOW, 0, false); e != 0 {
			if e == StepAside {
				e = unix.EINVAL
			}
			break
		}
		defer fs.Release(f)
		// What the FUSE kernel does: ask for the kill when
		// setattr_should_drop_suidgid() finds something to drop.
		a, _ := fs.GetAttr(f.Ino)
		var killFor *Cred
		if c.UID != 0 && (a.Mode&unix.S_ISUID != 0 ||
			a.Mode&unix.S_ISGID != 0 && (a.Mode&unix.S_IXGRP != 0 || !c.inGroup(a.GID))) {
			killFor = c
		}
		_, e = fs.Write(f, []byte("xyz"), int64(o.n), killFor)
	case "chmod", "chown", "truncate", "utimens":
		in := SetAttrIn{}
		switch o.kind {
		case "chmod":
			in.Valid, in.Mode = SetMode, o.mode
		case "chown":
			in.Valid, in.UID, in.GID = SetUID|SetGID, uint32(o.n>>32), uint32(o.n)
		case "truncate":
			in.Valid, in.Size = SetSize, o.n
		case "utimens":
			ts := diffTimes(o.flags)
			for i, bits := range [2][2]uint32{{SetAtime, SetAtimeNow}, {SetMtime, SetMtimeNow}} {
				switch ts[i].Nsec {
				case unix.UTIME_NOW:
					in.Valid |= bits[1]
				case unix.UTIME_OMIT:
				default:
					in.Valid |= bits[0]
					if i == 0 {
						in.Atime = ts[i]
					} else {
						in.Mtime = ts[i]
					}
				}
			}
		}
		e = fs.SetAttrAt(at(o.p, o.kind == "chmod" || o.kind == "truncate"), &in)
	case "access":
		e = fs.AccessAt(at(o.p, true), o.mode)
	case "setxattr", "getxattr", "removexattr":
		var ino Ino
		if ino, e = node(o.p, false); e != 0 {
			break
		}
		switch o.kind {
		case "setxattr":
			e = fs.SetXattr(c, ino, o.xname, []byte("v"), o.flags)
		case "getxattr":
			var v []byte
			v, e = fs.GetXattr(c, ino, o.xname)
			out = string(v)
		case "removexattr":
			e = fs.RemoveXattr(c, ino, o.xname)
		}
	default:
		tb.Fatalf("unknown op %s", o.kind)
	}
	return out, e
}
