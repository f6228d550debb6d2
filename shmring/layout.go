package shmring

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/btfuse/btfuse/event"
)

// Version is the layout version; a reader refuses any other. Version 2
// numbers ops as package event does, with event.MaxOps op cells; version 3
// has op names of event.MaxNameLen (24) bytes in a two-page header;
// version 4 has a fifth outcome per op and door, event.Expected.
const Version = 4

// Magic opens every segment.
const Magic = "btfuseSM"

const (
	headerSize = 8192
	// NumBuckets latency buckets: bucket i < NumBuckets-1 counts latencies
	// ≤ 2^i µs (1 µs … ~1 s); the last one counts the rest.
	NumBuckets = 22
	// PathMax is how many bytes of a path a record keeps (its tail).
	PathMax    = 72
	recordSize = 128
	maxMount   = 1024
	opNameLen  = event.MaxNameLen
	// DefaultSlots is the ring size used by the daemon (512 KiB of records).
	DefaultSlots = 4096
	maxSlots     = 1 << 20
	numCells     = event.MaxOps * int(event.NumDoors) * int(event.NumOutcomes)
	cellSize     = 8 * (2 + NumBuckets)
	countersOff  = headerSize
	ringOff      = countersOff + (numCells*cellSize+4095)&^4095
)

// header is the first page. Fields written once before the segment is
// published are plain; the others are atomic.
type header struct {
	magic       [8]byte
	version     uint32
	headerSize  uint32
	numOps      uint32
	numDoors    uint32
	numOutcomes uint32
	numBuckets  uint32
	cellSize    uint32
	recordSize  uint32
	countersOff uint64
	ringOff     uint64
	ringSlots   uint64
	totalSize   uint64
	pid         uint32
	mountLen    uint32
	startNano   int64

	head        atomic.Uint64 // tickets handed out: records ever written or dropped
	overwritten atomic.Uint64 // complete records overwritten by newer ones
	dropped     atomic.Uint64 // records given up (slot busy or newer), bad events

	// Gauges, set by the daemon.
	inodes, inodesMax, bytes, bytesMax atomic.Uint64
	supervised                         atomic.Uint64
	gaugeNano                          atomic.Int64

	_       [256 - 160]byte
	mount   [maxMount]byte
	opNames [event.MaxOps][opNameLen]byte
}

// cell counts one op × door × outcome.
type cell struct {
	count   atomic.Uint64
	sumNano atomic.Uint64
	buckets [NumBuckets]atomic.Uint64
}

// slot is one ring record: a seqlock word and the body it guards.
type slot struct {
	seq  atomic.Uint64
	body recBody
}

// recBody is a record's payload, copied as a whole.
type recBody struct {
	timeNano int64
	latency  uint64
	// ino is the event's inode, or for an Injected event its FaultValue.
	ino       uint64
	tgid, tid int32
	errno     uint32
	op        uint16
	door      uint8
	outcome   uint8
	pathLen   uint16
	flags     uint16 // flagTruncated
	rule      uint16 // Injected: the rule's id
	fault     uint8  // Injected: event.FaultKind
	_         uint8
	path      [PathMax]byte
}

const flagTruncated = 1

func cellIndex(op event.Op, d event.Door, o event.Outcome) int {
	return (int(op)*int(event.NumDoors)+int(d))*int(event.NumOutcomes) + int(o)
}

// segmentSize is the size of a segment with slots records.
func segmentSize(slots int) int { return ringOff + slots*recordSize }

// bucketOf returns the histogram bucket of latency d.
func bucketOf(d time.Duration) int {
	if d <= time.Microsecond {
		return 0
	}
	us := (uint64(d) + 999) / 1000
	b := bits.Len64(us - 1)
	if b >= NumBuckets-1 {
		return NumBuckets - 1
	}
	return b
}

// BucketBound is the upper bound of bucket i; the last one is unbounded
// (returned as -1).
func BucketBound(i int) time.Duration {
	if i >= NumBuckets-1 {
		return -1
	}
	return time.Duration(1<<i) * time.Microsecond
}
