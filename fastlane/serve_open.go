package fastlane

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/supervisor"
)

// oTmpfile is __O_TMPFILE, the bit O_TMPFILE adds to O_DIRECTORY.
const oTmpfile = 0o20000000

// mayOpenBacking reports whether a thread may open backing files itself:
// it is full root, or has the uid of a daemon that is not root, and so
// could open them anyway (they are the daemon's, mode 0600). A root
// daemon's uid without the capabilities is not enough: through the
// backing directory it could open files the mount would refuse it. The
// handshake hands the backing directory only to such a process, and each
// open checks again (the process may have changed its ids since).
func (s *Server) mayOpenBacking(th supervisor.Thread) bool {
	c := th.Cred()
	return (s.euid != 0 && c.UID == s.euid) || c.Caps&fsimpl.AllCaps == fsimpl.AllCaps
}

// openat decides an open as the seccomp lane does (fsimpl.OpenAt, which
// creates and truncates) and answers with an id for the File, which the
// daemon holds until the library releases it, and the backing file's name
// in out, which the library opens through its backing directory. What only
// the kernel can open (directories, devices, O_PATH...) passes.
func (ss *session) openat(b, tid int, path string) int64 {
	flags := int(int32(ss.seg.load(b + slotFlags)))
	mode := ss.seg.load(b + slotMode)
	if !ss.backing || flags&(unix.O_PATH|oTmpfile) != 0 {
		return Pass
	}
	at, th, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), path, false)
	if !ok || !ss.s.mayOpenBacking(th) {
		return Pass
	}
	f, e := ss.s.fs.OpenAt(at, flags, mode, true)
	if e != 0 {
		return result(e)
	}
	if ss.files == nil {
		ss.files = make(map[uint64]*fsimpl.File)
	}
	ss.nextID++
	ss.files[ss.nextID] = f
	ss.reply(b, []byte(fsimpl.BackingName(f.Ino)))
	ss.seg.putU64(b+slotOutIno, f.BackIno)
	return int64(ss.nextID)
}

// fstat answers fstat of a descriptor the channel opened, by its File's
// id, with the filesystem's attributes (the backing file's own would show
// another device and inode).
func (ss *session) fstat(b, tid int) int64 {
	ino, ok := ss.inoOf(ss.seg.getU64(b + slotLen))
	if !ok {
		return Pass
	}
	if _, ok := ss.thread(b, tid); !ok {
		return Pass
	}
	a, e := ss.s.fs.GetAttr(ino)
	if e != 0 {
		return Pass
	}
	st := ss.s.sup.StatOf(&a)
	ss.reply(b, bytesOf(&st))
	return 0
}

// releaseFile lets go of the File with id (the library closed its descriptor).
func (ss *session) releaseFile(id uint64) {
	if id&pinID == 0 && id&unpinTag != 0 {
		ss.s.fs.Unpinned(fsimpl.Ino(id &^ unpinTag))
		return
	}
	if f := ss.files[id]; f != nil {
		ss.s.fs.Release(f)
		delete(ss.files, id)
	}
}
