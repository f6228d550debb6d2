package fastlane

import (
	"golang.org/x/sys/unix"
)

// The calls that change names, as the seccomp lane's handlers make them
// (supervisor/mutate.go).
//
// A request is acted on even if its process died after posting it: the
// call had begun (the thread was inside it, waiting), and a kernel that
// kills a thread inside mkdir, unlink, rename, link or a creating open
// lets the operation finish first, so the outcome is one the kernel could
// give. (The seccomp lane's notification, by contrast, is withdrawn by
// the kernel before the call begins, so the supervisor checks that it is
// still valid.) Not asking costs a poll of the pidfd per request.

// mkdirat mirrors the seccomp lane's mkdir.
func (ss *session) mkdirat(b, tid int, path string) int64 {
	at, _, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), path, false)
	if !ok {
		return Pass
	}
	_, e := ss.s.fs.MkdirAt(at, ss.seg.load(b+slotMode))
	return result(e)
}

// unlinkat mirrors the seccomp lane's unlink (fs/namei.c:do_unlinkat(),
// do_rmdir()).
func (ss *session) unlinkat(b, tid int, path string) int64 {
	flags := int(int32(ss.seg.load(b + slotFlags)))
	if flags&^unix.AT_REMOVEDIR != 0 {
		return -int64(unix.EINVAL)
	}
	at, _, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), path, false)
	if !ok {
		return Pass
	}
	return result(ss.s.fs.UnlinkAt(at, flags&unix.AT_REMOVEDIR != 0))
}

// renameat2 mirrors the seccomp lane's rename (fs/namei.c:do_renameat2()).
func (ss *session) renameat2(b, tid int, oldPath string) int64 {
	flags := ss.seg.load(b + slotFlags)
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return -int64(unix.EINVAL)
	}
	if flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return -int64(unix.EINVAL)
	}
	if flags&unix.RENAME_WHITEOUT != 0 {
		return Pass // a whiteout is a device node: CAP_MKNOD is the kernel's call
	}
	newPath, ok := ss.seg.cstring(b+slotPath2, PathBytes)
	if !ok {
		return Pass
	}
	old, _, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), oldPath, false)
	if !ok {
		return Pass
	}
	new, _, ok := ss.at(1, b, tid, int32(ss.seg.load(b+slotDirfd2)), newPath, false)
	if !ok {
		return Pass
	}
	return result(ss.s.fs.RenameAt(old, new, flags))
}

// linkat mirrors the seccomp lane's link (fs/namei.c:do_linkat()).
// AT_EMPTY_PATH links a descriptor: the kernel's (the library sends only
// paths).
func (ss *session) linkat(b, tid int, oldPath string) int64 {
	flags := int(int32(ss.seg.load(b + slotFlags)))
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return -int64(unix.EINVAL)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return Pass
	}
	newPath, ok := ss.seg.cstring(b+slotPath2, PathBytes)
	if !ok {
		return Pass
	}
	old, _, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), oldPath, flags&unix.AT_SYMLINK_FOLLOW != 0)
	if !ok {
		return Pass
	}
	new, _, ok := ss.at(1, b, tid, int32(ss.seg.load(b+slotDirfd2)), newPath, false)
	if !ok {
		return Pass
	}
	_, e := ss.s.fs.LinkAt(old, new)
	return result(e)
}
