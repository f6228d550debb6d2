package shmring

import (
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

// Record is one event read from the ring.
type Record struct {
	Seq       uint64 // ticket: the event's number since the daemon started
	Time      time.Time
	Latency   time.Duration
	Ino       uint64
	Tgid, Tid int32
	Errno     unix.Errno
	Op        event.Op
	Door      event.Door
	Outcome   event.Outcome
	Path      string
	Truncated bool // Path is the tail of a longer path
	// Rule, Fault and FaultValue: see event.Event (Injected records only;
	// Ino is 0 for them).
	Rule       uint16
	Fault      event.FaultKind
	FaultValue int64
}

// Cursor follows a segment's ring. It is not safe for concurrent use.
type Cursor struct {
	s    *Segment
	next uint64 // the ticket to read next
	// Missed counts events this cursor will never see: overwritten before
	// it got to them, torn while it copied them, dropped by the producer,
	// or corrupt.
	Missed uint64

	stuckAt    uint64 // ticket seen not yet complete at the last polls
	stuckPolls int
	stuckSince time.Time
}

// A reader waits for a ticket whose writer has not finished (or gave up) for
// at least stuckLimit polls and stuckWait before it counts it as missed. A
// producer preempted between taking its ticket and publishing it, which
// happens for tens of milliseconds on a loaded machine, is then still
// seen; a ticket given up by a lapped producer delays the reader once.
const (
	stuckLimit = 4
	stuckWait  = time.Second
)

// Cursor returns a cursor at the oldest record still in the ring (all) or
// at the next event to come.
//
// The position is fixed here, not at the first Poll: an event produced after
// Cursor returns is never skipped (trace announces itself once it has its
// cursor, and whatever happens after that line must show).
func (s *Segment) Cursor(all bool) (c *Cursor) {
	c = &Cursor{s: s}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil { // the segment shrank under us: start at 0
			c.next = 0
		}
	}()
	head := s.v.hdr.head.Load()
	c.next = head
	if all {
		c.next = 0
		if slots := uint64(s.slots); head > slots {
			c.next = head - slots
		}
	}
	return c
}

// Poll appends to dst the complete records published since the last poll,
// at most cap(dst)-len(dst) of them when dst has spare capacity, and
// returns it. It never waits.
func (c *Cursor) Poll(dst []Record) (out []Record, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	out = dst
	defer guard(&err)
	limit := -1
	if cap(dst) > len(dst) {
		limit = cap(dst) - len(dst)
	}
	s := c.s
	head := s.v.hdr.head.Load()
	slots := uint64(s.slots)
	if head < c.next { // not a sequence this cursor knows: start over
		c.next = head
	}
	if head-c.next > slots {
		c.Missed += head - slots - c.next
		c.next = head - slots
	}
	for c.next < head && limit != 0 {
		t := c.next
		sl := &s.v.ring[t&s.mask]
		want := (t + 1) << 1
		s1 := sl.seq.Load()
		switch {
		case s1 == want:
			body := sl.body
			if sl.seq.Load() != s1 {
				c.Missed++ // overwritten while copied
			} else if r, ok := decode(t, &body); ok {
				out = append(out, r)
				limit--
			} else {
				c.Missed++
			}
		case s1>>1 > t+1:
			c.Missed++ // overwritten by a newer record
		default:
			// Not complete yet, or its writer gave up on it: wait a few
			// polls, then count it as missed.
			if c.stuckAt != t || c.stuckPolls == 0 {
				c.stuckAt, c.stuckPolls, c.stuckSince = t, 0, time.Now()
			}
			c.stuckPolls++
			if c.stuckPolls < stuckLimit || time.Since(c.stuckSince) < stuckWait {
				return out, nil
			}
			c.stuckPolls = 0
			c.Missed++
		}
		c.next++
	}
	return out, nil
}

// Next is the ticket the cursor reads next.
func (c *Cursor) Next() uint64 { return c.next }

// decode checks a copied record body; nothing in it is trusted.
func decode(t uint64, b *recBody) (Record, bool) {
	if b.op >= uint16(event.NumOps()) || b.door >= uint8(event.NumDoors) || b.outcome >= uint8(event.NumOutcomes) ||
		b.pathLen > PathMax || b.latency > 1<<62 || b.fault >= uint8(event.NumFaultKinds) {
		return Record{}, false
	}
	r := Record{
		Seq:       t,
		Time:      time.Unix(0, b.timeNano),
		Latency:   time.Duration(b.latency),
		Ino:       b.ino,
		Tgid:      b.tgid,
		Tid:       b.tid,
		Errno:     unix.Errno(b.errno),
		Op:        event.Op(b.op),
		Door:      event.Door(b.door),
		Outcome:   event.Outcome(b.outcome),
		Path:      string(b.path[:b.pathLen]),
		Truncated: b.flags&flagTruncated != 0,
	}
	if r.Outcome == event.Injected {
		r.Rule, r.Fault, r.FaultValue, r.Ino = b.rule, event.FaultKind(b.fault), int64(b.ino), 0
	}
	return r, true
}
