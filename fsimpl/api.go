package fsimpl

import (
	"golang.org/x/sys/unix"
)

// Ino is an inode number. Numbers are handed out from a counter and never
// reused while the filesystem lives; RootIno is the root directory. The FUSE
// door uses the same number as its node ID.
type Ino uint64

// RootIno is the inode number of the root directory.
const RootIno Ino = 1

// NameMax is the longest name component in bytes (NAME_MAX). The kernel does
// not enforce it for FUSE, so fsimpl does.
const NameMax = 255

// Cred is the identity an operation runs with: the caller's fsuid, fsgid,
// supplementary groups and effective capabilities. Ids are those of the
// daemon's user namespace. UID 0 carries no power of its own; only Caps
// do.
type Cred struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	// Caps are the caller's effective capabilities that fsimpl consults.
	// For a caller in another user namespace (NS set) they are relative
	// to that namespace and count over a file only when its owner and
	// group are mapped there (capable_wrt_inode_uidgid()); the door
	// leaves out those only the initial namespace grants.
	Caps Caps
	NS   *UserNS
	// Door is the way the caller came in (see Door).
	Door Door
}

// UserNS is the user namespace of a caller outside the daemon's: which of
// the daemon's ids are mapped into it (from /proc/PID/uid_map and
// gid_map). A nil *UserNS is the daemon's own, where every id is mapped.
type UserNS struct {
	UIDs, GIDs []IDRange
}

// IDRange is Count ids of the daemon's namespace starting at First.
type IDRange struct {
	First, Count uint32
}

// Caps is a set of capabilities with the kernel's bit numbers
// (1 << CAP_*), as in CapEff of /proc/PID/status.
type Caps uint64

// The capabilities fsimpl's checks use, and the kernel rule each one
// overrides.
const (
	CapChown         Caps = 1 << unix.CAP_CHOWN        // chown_ok(), chgrp_ok()
	CapDacOverride   Caps = 1 << unix.CAP_DAC_OVERRIDE // generic_permission()
	CapDacReadSearch Caps = 1 << unix.CAP_DAC_READ_SEARCH
	CapFowner        Caps = 1 << unix.CAP_FOWNER    // inode_owner_or_capable(), check_sticky()
	CapFsetid        Caps = 1 << unix.CAP_FSETID    // in_group_or_capable(), should_remove_suid()
	CapMknod         Caps = 1 << unix.CAP_MKNOD     // vfs_mknod() of a device
	CapSysAdmin      Caps = 1 << unix.CAP_SYS_ADMIN // trusted.* xattrs

	// AllCaps is every capability fsimpl consults: what root has in the
	// initial user namespace, as far as fsimpl can tell.
	AllCaps = CapChown | CapDacOverride | CapDacReadSearch | CapFowner | CapFsetid | CapMknod | CapSysAdmin
)

// Root is the credential of the daemon itself.
var Root = &Cred{Caps: AllCaps}

// Attr is what stat reports about an inode. For regular files Size, Blocks
// and the three times are read from the backing file, so writes made through
// natively installed file descriptors show at once.
type Attr struct {
	Ino     Ino
	Mode    uint32 // file type and permission bits, as in st_mode
	Nlink   uint32
	UID     uint32
	GID     uint32
	Rdev    uint64
	Size    uint64
	Blocks  uint64 // 512-byte blocks actually allocated
	Blksize uint32
	Atime   unix.Timespec
	Mtime   unix.Timespec
	Ctime   unix.Timespec
	// Volatile is set while a descriptor open for writing on the file
	// has been handed to another process (HandOut): its size and times
	// can then change at any moment without fsimpl being told, so they
	// must not be cached.
	Volatile bool
}

// Set bits for SetAttrIn.Valid.
const (
	SetMode uint32 = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime    // Atime holds the new value
	SetAtimeNow // set atime to the current time (UTIME_NOW)
	SetMtime
	SetMtimeNow
	SetCtime // explicit ctime (only the FUSE protocol sends it; usually ignored)
	// SetKillSUIDGID asks that setuid/setgid be cleared, as the kernel
	// requests with FATTR_KILL_SUIDGID when a truncate comes from an
	// unprivileged caller under handle_killpriv_v2.
	SetKillSUIDGID
	// SetNoopChown is chown(-1, -1): only ctime changes, and setuid/setgid
	// go as for any chown of a non-directory. notify_change() turns that
	// drop into a mode change, which setattr_prepare() allows only the
	// owner (or CAP_FOWNER): anyone else gets EPERM when there is a bit
	// to drop, and nothing changes.
	SetNoopChown
)

// SetAttrIn is a setattr request. Fields not named in Valid are ignored.
// Omitted times (UTIME_OMIT) are simply not set in Valid.
type SetAttrIn struct {
	Valid uint32
	Mode  uint32 // permission bits only (07777)
	UID   uint32
	GID   uint32
	Size  uint64
	Atime unix.Timespec
	Mtime unix.Timespec
}

// Dirent is one directory entry as readdir returns it. Off is the cookie to
// pass back to continue after this entry; it stays valid while the directory
// changes (telldir/seekdir).
type Dirent struct {
	Ino  Ino
	Mode uint32 // file type bits only (S_IFMT)
	Name string
	Off  uint64
}

// StatFs is the answer to statfs.
type StatFs struct {
	Blocks  uint64 // total, in Bsize units
	Bfree   uint64
	Bavail  uint64
	Files   uint64 // inode capacity
	Ffree   uint64
	Bsize   uint32
	NameLen uint32
	Frsize  uint32
}

// Flags for Rename (the values of renameat2).
const (
	RenameNoReplace = unix.RENAME_NOREPLACE
	RenameExchange  = unix.RENAME_EXCHANGE
)

// Flags for SetXattr.
const (
	XattrCreate  = unix.XATTR_CREATE
	XattrReplace = unix.XATTR_REPLACE
)
