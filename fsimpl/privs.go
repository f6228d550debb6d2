package fsimpl

import (
	"os"

	"golang.org/x/sys/unix"
)

// Writes through descriptors that the supervised door installs in its
// targets go to the backing file natively, and fsimpl never sees them. The
// kernel's file_remove_privs() (fs/inode.c) must still clear setuid and
// setgid for a writer without CAP_FSETID, judged by that writer's
// credentials at the time of the write. So the bits that rule decides on
// are mirrored onto the backing file: setuid, setgid and group-execute, and
// the group while setgid is set (setattr_should_drop_sgid() asks whether
// the writer is in it). The kernel then clears them on the backing file,
// and fsimpl reads the loss back:
//   - attrLocked leaves out a bit the backing file lost (under the read lock,
//     without changing the inode);
//   - syncPrivsLocked folds the loss into the inode under the write lock,
//     before anything decides from its mode.
//
// Only files with setuid or setgid pay for this (a few syscalls when their
// mode or group changes, one stat when they are changed again), and only
// when the daemon runs as root: the daemon's own writes and truncations
// must not trigger the kernel's rule (it has CAP_FSETID), and only root
// can give the backing file any group. And only on a nosuid backing mount:
// a backing file is root's, and a served descriptor can be fexecve()d, so
// a setuid bit mirrored onto a mount that honours it would run a user's
// program as root (the private tmpfs is mounted nosuid; a /dev/shm
// directory is used for this only where /dev/shm is nosuid).

// privBits are the mode bits mirrored onto backing files.
const privBits = unix.S_ISUID | unix.S_ISGID | unix.S_IXGRP

// mirrorsPrivs reports whether backing files on b can carry the mirrored
// bits: the daemon is root and the backing mount ignores setuid.
func (b *backing) mirrorsPrivs() bool {
	if os.Geteuid() != 0 {
		return false
	}
	var st unix.Statfs_t
	return unix.Fstatfs(b.dirfd, &st) == nil && st.Flags&unix.ST_NOSUID != 0
}

// mirrorPrivsLocked makes n's backing file carry n's privilege bits and,
// with setgid, its group; the bits the backing file could not take are
// left out of n.backPriv, so they are never read back as lost.
//
// Preconditions: fs.mu is held for writing; n is a regular file.
func (fs *FS) mirrorPrivsLocked(n *inode) {
	if !fs.back.mirror {
		return
	}
	want := uint32(0)
	if n.mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		want = n.mode & privBits
	}
	if want == n.backPriv && (want&unix.S_ISGID == 0 || n.backGID == n.gid) {
		return
	}
	name := backingName(n.ino)
	if want&unix.S_ISGID != 0 && n.backGID != n.gid {
		// Before the chmod: a chown clears setuid and setgid.
		if unix.Fchownat(fs.back.dirfd, name, -1, int(n.gid), unix.AT_SYMLINK_NOFOLLOW) == nil {
			n.backGID = n.gid
		} else {
			// With another group the kernel would weigh setgid
			// against the wrong one: not mirrored, never read back.
			want &^= unix.S_ISGID
		}
	}
	fs.viewInoLocked(n)
	unix.Fchmodat(fs.back.dirfd, name, 0o600|want, 0)
	n.backPriv = 0
	var st unix.Stat_t
	if fs.back.stat(n.ino, &st) == 0 {
		n.backPriv = st.Mode & privBits
	}
}

// lostPrivs returns the setuid/setgid bits that n's backing file carried
// and has lost since (a native write by a writer without CAP_FSETID), given
// the backing file's mode.
//
// Preconditions: fs.mu is held.
func lostPrivs(n *inode, backMode uint32) uint32 {
	return n.backPriv & (unix.S_ISUID | unix.S_ISGID) &^ backMode
}

// syncPrivsLocked clears from n's mode what its backing file lost.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) syncPrivsLocked(n *inode) {
	if n.backPriv&(unix.S_ISUID|unix.S_ISGID) == 0 || !n.isReg() {
		return
	}
	var st unix.Stat_t
	if fs.back.stat(n.ino, &st) != 0 {
		return
	}
	if lost := lostPrivs(n, st.Mode); lost != 0 {
		n.mode &^= lost
		n.backPriv &^= lost
		fs.viewInoLocked(n)
	}
}
