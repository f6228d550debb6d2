package fastlane

import "github.com/btfuse/btfuse/fsimpl"

// LayoutForTest names every number of the segment's layout as channel.c
// spells it.
func LayoutForTest() map[string]int64 {
	return map[string]int64{
		"FL_MAGIC": Magic, "FL_VERSION": Version, "FL_NUM_SLOTS": NumSlots, "FL_SLOT_SIZE": SlotSize,
		"FL_SLOTS_OFF": SlotsOff, "FL_SEG_SIZE": SegSize, "FL_PATH_BYTES": PathBytes, "FL_OUT_BYTES": OutBytes,
		"HDR_MAGIC": hdrMagic, "HDR_VERSION": hdrVersion, "HDR_SLOTS": hdrSlots, "HDR_SLOT_SIZE": hdrSlotSize,
		"HDR_SLOTS_OFF": hdrSlotsOff, "HDR_STATE": hdrState, "HDR_BELL": hdrBell, "HDR_SLEEPING": hdrSleeping,
		"SLOT_OWNER": slotOwner, "SLOT_STATE": slotState, "SLOT_WAITING": slotWaiting, "SLOT_OP": slotOp,
		"SLOT_TID": slotTid, "SLOT_DIRFD": slotDirfd, "SLOT_DIRFD2": slotDirfd2, "SLOT_FLAGS": slotFlags,
		"SLOT_MODE": slotMode, "SLOT_MASK": slotMask, "SLOT_LEN": slotLen, "SLOT_RESULT": slotResult,
		"HDR_VIEW_WALK": hdrViewWalk, "HDR_DOORBELL": hdrDoorbell, "HDR_FAULTS": hdrFaults, "HDR_HITS": hdrHits, "HDR_PINS": hdrPins, "FL_MAX_PINS": MaxPins,
		"SLOT_OUTLEN": slotOutLen, "SLOT_NREL": slotNRel, "SLOT_CLAIM": slotClaim, "SLOT_OUTINO": slotOutIno, "SLOT_REL": slotRel, "FL_MAX_REL": MaxRel, "SLOT_PATH1": slotPath1, "SLOT_PATH2": slotPath2, "SLOT_OUT": slotOut,
		"STATE_SERVING": stateServing, "STATE_CLOSED": stateClosed,
		"S_IDLE": slotIdle, "S_REQUEST": slotRequest, "S_BUSY": slotBusy, "S_DONE": slotDone,
		"OP_NEWFSTATAT": opNewfstatat, "OP_STATX": opStatx, "OP_FACCESSAT2": opFaccessat2, "OP_READLINKAT": opReadlinkat,
		"OP_OPENAT": opOpenat, "OP_MKDIRAT": opMkdirat, "OP_UNLINKAT": opUnlinkat, "OP_RENAMEAT2": opRenameat2,
		"OP_FSTAT": opFstat, "OP_RELEASE": opRelease, "OP_LINKAT": opLinkat,
		"OP_FCHMOD": opFchmod, "OP_FCHOWN": opFchown, "OP_FSTATX": opFstatx, "OP_FSTATFS": opFstatfs,
		"OP_FGETXATTR": opFgetxattr, "OP_FSETXATTR": opFsetxattr, "OP_FLISTXATTR": opFlistxattr,
		"OP_FREMOVEXATTR": opFremovexattr, "SLOT_ARG0": slotArg0, "SLOT_ARG1": slotArg1, "SLOT_ARG2": slotArg2,
		"FL_PASS": Pass, "FL_KERNEL_PASS": Kernel,
	}
}

// ViewLayoutForTest names every number of the metadata view's layout as
// preload/view.h spells it ("hash": flv_hash(7, "some-name")).
func ViewLayoutForTest() map[string]int64 {
	return fsimpl.ViewLayoutForTest()
}
