package fsimpl

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The view's memfd starts without pages: the first write to each page of
// it is a page fault, taken inside the critical section of whichever
// change allocated the first slot or dentry there, with FS.mu held for
// writing, so every door waits for it. Inode slots and dentries are handed
// out from the front of their arrays (nextSlot, nextDent), so the pages a
// change will touch next are known: a populator goroutine faults them in
// (MADV_POPULATE_WRITE) ahead of the allocation, off the request path.
// Populating changes no byte of the view, so it needs no lock and may race
// with the writer: a page the writer reaches first is faulted in as
// before. The buckets of both hashes are written when the view is made,
// so their pages are in already.

const (
	// viewPopAhead is how far past the last allocated slot or dentry the
	// populator keeps the pages in, and viewPopChunk how much it adds at
	// a time: the view holds at most that much more memory than it uses.
	viewPopAhead = 256 << 10
	viewPopChunk = 256 << 10
)

// viewRegion is a part of the view that is allocated from the front.
type viewRegion struct {
	off, size int // bytes, both page-aligned
	// want is the length from off that the writer asked to have
	// populated (guarded by FS.mu for writing); asked is its copy for the
	// populator.
	want  int
	asked atomic.Int64
	done  int // populated so far (the populator's alone)
}

// viewPopulator faults in the view's pages ahead of the writer.
type viewPopulator struct {
	mem     []byte
	regions [2]viewRegion // inode slots, dentries
	kick    chan struct{}
	wg      sync.WaitGroup
}

const (
	popSlots = 0
	popDents = 1
)

// startPopulator starts populating the first chunk of each region of mem.
func startPopulator(mem []byte, slotsOff, slotsSize, dentsOff, dentsSize int) *viewPopulator {
	p := &viewPopulator{mem: mem, kick: make(chan struct{}, 1)}
	p.regions[popSlots] = viewRegion{off: slotsOff, size: slotsSize}
	p.regions[popDents] = viewRegion{off: dentsOff, size: dentsSize}
	p.wg.Add(1)
	go p.run()
	p.reach(popSlots, 0)
	p.reach(popDents, 0)
	return p
}

// reach tells the populator that region r is in use up to used bytes from
// its start; it asks for more pages when fewer than viewPopAhead remain
// populated past that.
//
// Preconditions: FS.mu is held for writing.
func (p *viewPopulator) reach(r, used int) {
	if p == nil {
		return
	}
	g := &p.regions[r]
	if used+viewPopAhead <= g.want || g.want >= g.size {
		return
	}
	g.want = min(g.size, (used+viewPopAhead+viewPopChunk+pageSize-1)&^(pageSize-1))
	g.asked.Store(int64(g.want))
	select {
	case p.kick <- struct{}{}:
	default: // a kick is pending: it sees the new want
	}
}

// run populates what reach asked for until stop.
func (p *viewPopulator) run() {
	defer p.wg.Done()
	for range p.kick {
		for i := range p.regions {
			g := &p.regions[i]
			want := int(g.asked.Load())
			if g.done >= want {
				continue
			}
			// EINVAL: a kernel without MADV_POPULATE_WRITE (before
			// 5.14); the writer then takes the faults itself.
			if unix.Madvise(p.mem[g.off+g.done:g.off+want], unix.MADV_POPULATE_WRITE) != nil {
				return
			}
			g.done = want
		}
	}
}

// stop ends the populator and waits for it, so the mapping may be
// unmapped.
func (p *viewPopulator) stop() {
	if p == nil {
		return
	}
	close(p.kick)
	p.wg.Wait()
}
