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
