package fsimpl

// The layout of the metadata view (view.go). fastlane/preload/view.h
// repeats these numbers for the C reader; TestViewLayoutMatchesC compiles
// a program that prints the header's values and compares them with these.
//
// A view is one memfd: a header page, then inode slots of viewSlotSize
// bytes, then the dentry hash's buckets (int32 heads of chains), then the
// dentries of viewDentSize bytes, then the buckets of a hash of inode
// numbers (int32 heads of chains of slots), which finds the slot of a
// directory a process holds open. All integers are
// little-endian (the machine's order: the reader is on the same host);
// slot and dentry indexes are int32, -1 for none.
const (
	ViewMagic   = 0x57565442 // "BTVW"
	ViewVersion = 1

	// Header.
	viewHdrMagic    = 0
	viewHdrVersion  = 4
	viewHdrSeq      = 8  // u64: the seqlock, odd while the writer writes
	viewHdrFlags    = 16 // u32: ViewUsable...
	viewHdrSlots    = 20 // u32: number of inode slots
	viewHdrBuckets  = 24 // u32: number of buckets, a power of two
	viewHdrDents    = 28 // u32: number of dentries
	viewHdrDev      = 32 // u64: st_dev of the mount, as the kernel shows it
	viewHdrMntID    = 40 // u64: its mount id (statx stx_mnt_id)
	viewHdrRoot     = 48 // i32: the root directory's slot
	viewHdrSlotsOff = 56 // u64
	viewHdrBuckOff  = 64 // u64
	viewHdrDentsOff = 72 // u64
	viewHdrSize     = 80 // u64: the whole view, in bytes
	viewHdrIBuckOff = 88 // u64: the inode-number hash's buckets (int32 heads of slot chains)
	viewHdrIBuckets = 96 // u32: their number, a power of two
	viewHeaderBytes = 4096

	// Inode slot.
	viewSlotSize   = 256
	viewInoIno     = 0  // u64; 0: a free slot
	viewInoMode    = 8  // u32
	viewInoNlink   = 12 // u32
	viewInoUID     = 16 // u32
	viewInoGID     = 20 // u32
	viewInoRdev    = 24 // u64
	viewInoSize    = 32 // u64: directories and symlinks (a regular file's is its backing file's)
	viewInoBlocks  = 40 // u64: likewise
	viewInoAtime   = 48 // i64 seconds, then i64 nanoseconds
	viewInoMtime   = 64
	viewInoCtime   = 80
	viewInoParent  = 96  // i32: a directory's ".." slot
	viewInoFlags   = 100 // u32: viewF*
	viewInoGrant   = 104 // u32: R_OK|W_OK|X_OK that every credential is granted
	viewInoPriv    = 108 // u32: setuid/setgid mirrored onto the backing file (lostPrivs)
	viewInoLinkDue = 112 // i64: until when (CLOCK_REALTIME seconds) following this symlink leaves its atime alone
	viewInoTLen    = 120 // u32: symlink target length
	viewInoNext    = 124 // i32: the next slot of its inode-number hash chain
	viewInoTarget  = 128 // the target, when viewFTarget
	ViewTargetMax  = viewSlotSize - viewInoTarget

	// Dentry.
	viewDentSize    = 64
	viewDentDir     = 0  // i32: slot of the directory; -1: a free dentry
	viewDentChild   = 4  // i32: slot of the inode it names
	viewDentNext    = 8  // i32: the next dentry of the bucket's chain
	viewDentNameLen = 12 // u32
	viewDentName    = 16
	ViewNameMax     = viewDentSize - viewDentName

	// ViewMaxSlots caps the inode slots (the mount's inode limit sizes a
	// view below it).
	ViewMaxSlots = 1 << 17
)

// Header flags.
const (
	// ViewUsable: the daemon's view of the mount is plain (nothing mounted
	// over or under it, no supervised process changed its view); cleared,
	// every reader falls back.
	ViewUsable = 1
)

// Slot flags.
const (
	// viewFIncomplete: a directory with entries the view does not hold
	// (a long name, a full table): a miss there is no ENOENT.
	viewFIncomplete = 1
	// viewFSearchAll: a directory every credential may search.
	viewFSearchAll = 2
	// viewFFollowAll: a directory whose symlinks every credential may
	// follow (fs.protected_symlinks never refuses there).
	viewFFollowAll = 4
	// viewFVolatile: writers outside fsimpl may change it (Attr.Volatile).
	viewFVolatile = 8
	// viewFTarget: a symlink whose target is inline.
	viewFTarget = 16
)

// ViewLayoutForTest names every number of the layout as
// fastlane/preload/view.h spells it, and "hash": the dentry hash of
// "some-name" in slot 7 (TestViewLayoutMatchesC).
func ViewLayoutForTest() map[string]int64 {
	return map[string]int64{
		"FLV_MAGIC": ViewMagic, "FLV_VERSION": ViewVersion,
		"FLV_HDR_MAGIC": viewHdrMagic, "FLV_HDR_VERSION": viewHdrVersion, "FLV_HDR_SEQ": viewHdrSeq,
		"FLV_HDR_FLAGS": viewHdrFlags, "FLV_HDR_SLOTS": viewHdrSlots, "FLV_HDR_BUCKETS": viewHdrBuckets,
		"FLV_HDR_DENTS": viewHdrDents, "FLV_HDR_DEV": viewHdrDev, "FLV_HDR_MNTID": viewHdrMntID,
		"FLV_HDR_ROOT": viewHdrRoot, "FLV_HDR_SLOTS_OFF": viewHdrSlotsOff, "FLV_HDR_BUCK_OFF": viewHdrBuckOff,
		"FLV_HDR_DENTS_OFF": viewHdrDentsOff, "FLV_HDR_SIZE": viewHdrSize, "FLV_HDR_IBUCK_OFF": viewHdrIBuckOff, "FLV_HDR_IBUCKETS": viewHdrIBuckets, "FLV_HEADER_BYTES": viewHeaderBytes,
		"FLV_SLOT_SIZE": viewSlotSize, "FLV_INO_INO": viewInoIno, "FLV_INO_MODE": viewInoMode,
		"FLV_INO_NLINK": viewInoNlink, "FLV_INO_UID": viewInoUID, "FLV_INO_GID": viewInoGID,
		"FLV_INO_RDEV": viewInoRdev, "FLV_INO_SIZE": viewInoSize, "FLV_INO_BLOCKS": viewInoBlocks,
		"FLV_INO_ATIME": viewInoAtime, "FLV_INO_MTIME": viewInoMtime, "FLV_INO_CTIME": viewInoCtime,
		"FLV_INO_PARENT": viewInoParent, "FLV_INO_FLAGS": viewInoFlags, "FLV_INO_GRANT": viewInoGrant,
		"FLV_INO_PRIV": viewInoPriv, "FLV_INO_LINKDUE": viewInoLinkDue, "FLV_INO_TLEN": viewInoTLen, "FLV_INO_NEXT": viewInoNext,
		"FLV_INO_TARGET": viewInoTarget, "FLV_TARGET_MAX": ViewTargetMax,
		"FLV_DENT_SIZE": viewDentSize, "FLV_DENT_DIR": viewDentDir, "FLV_DENT_CHILD": viewDentChild,
		"FLV_DENT_NEXT": viewDentNext, "FLV_DENT_NAMELEN": viewDentNameLen, "FLV_DENT_NAME": viewDentName,
		"FLV_NAME_MAX": ViewNameMax, "FLV_USABLE": ViewUsable,
		"FLV_F_INCOMPLETE": viewFIncomplete, "FLV_F_SEARCH_ALL": viewFSearchAll, "FLV_F_FOLLOW_ALL": viewFFollowAll,
		"FLV_F_VOLATILE": viewFVolatile, "FLV_F_TARGET": viewFTarget,
		"FLV_RETRIES": viewRetries, "FLV_MAX_LINKS": viewMaxLinks,
		"hash": int64(viewHash(7, "some-name")),
	}
}
