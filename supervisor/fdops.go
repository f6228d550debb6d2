package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// fchmod and fchown on a served descriptor change fsimpl's metadata, not
// the backing file's (fs/open.c:chmod_common(), chown_common()).
func (c *call) fchmod() result {
	return c.fdSetAttr(&fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: c.u32Arg(1) & 0o7777})
}

func (c *call) fchown() result {
	return c.fdSetAttr(ChownIn(c.u32Arg(1), c.u32Arg(2)))
}

func (c *call) fdSetAttr(in *fsimpl.SetAttrIn) result {
	ino, found := c.fdIno(c.fdArg(0))
	return c.inoSetAttr(ino, found, in)
}

// inoSetAttr changes the attributes of the inode of a served descriptor
// (found), or leaves the call to the kernel.
func (c *call) inoSetAttr(ino fsimpl.Ino, found bool, in *fsimpl.SetAttrIn) result {
	if !found {
		return cont()
	}
	cr, e := c.credentials()
	if e != 0 {
		return cont()
	}
	return c.change(func() unix.Errno {
		_, e := c.s.fs.SetAttr(&cr.fs, ino, in, nil)
		return e
	})
}

// fstatfs on a served descriptor reports the filesystem as statfs of a
// path under the mount does; natively it would report the backing store.
func (c *call) fstatfs() result {
	if _, found := c.fdIno(c.fdArg(0)); !found || !c.admitted() {
		return cont()
	}
	out := c.s.StatfsOf(c.s.fs.StatFs())
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := writeMem(c.tid, c.arg(1), asBytes(&out)); e != 0 {
		return fail(unix.EFAULT)
	}
	return ok(0)
}

// ftruncate runs natively on the backing file (whose size fsimpl reads
// live); the kernel checks the access mode. The FUSE door's cached size and
// pages are dropped now and again when the writer closes.
func (c *call) ftruncate() result {
	if ino, found := c.fdIno(c.fdArg(0)); found {
		c.waitBegin()
		c.s.fs.Changed(fsimpl.DoorRun, fsimpl.Change{Kind: fsimpl.ChangeData, Ino: ino})
		c.waitEnd()
	}
	return cont()
}
