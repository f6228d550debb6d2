package fsimpl

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestViewPopulatesAhead: the pages of the inode slots and dentries that
// the next changes will take are in memory before a change takes them
// (the populator faults them in), so no change takes a page fault while
// it holds FS.mu; and no more than a bounded stretch past the last one
// used is, so a small filesystem's view stays small. Before the
// populator, every page past the last slot or dentry written was absent.
func TestViewPopulatesAhead(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm, Inodes: 1 << 16})
	fd, err := fs.View()
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	for i := range 3000 {
		mustOK(t, "mkdir", e2(fs.MkdirAt(atRoot(Root, fmt.Sprintf("d%d", i)), 0o755)))
	}
	fs.mu.RLock()
	v := fs.view
	used := [2]int{int(v.nextSlot) * viewSlotSize, int(v.nextDent) * viewDentSize}
	want := [2]int{v.pop.regions[popSlots].want, v.pop.regions[popDents].want}
	fs.mu.RUnlock()
	names := [2]string{"inode slots", "dentries"}
	for r := range v.pop.regions {
		g := &v.pop.regions[r]
		// The pages from the one after the last written to viewPopAhead
		// past it: no write touched them.
		from := (used[r] + pageSize - 1) &^ (pageSize - 1)
		to := min(g.size, used[r]+viewPopAhead)
		if to <= from {
			t.Fatalf("%s: region of %d bytes too small for the test", names[r], g.size)
		}
		var missing, pages int
		for deadline := time.Now().Add(10 * time.Second); ; {
			vec := resident(t, v.mem, g.off+from, to-from)
			missing, pages = 0, len(vec)
			for _, b := range vec {
				if b&1 == 0 {
					missing++
				}
			}
			if missing == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if missing != 0 {
			t.Errorf("%s: %d of the %d pages after the last one used (%d bytes) are not in memory", names[r], missing, pages, used[r])
		}
		// Well past what was asked for, nothing.
		far := want[r] + 16*pageSize
		if far+pageSize <= g.size {
			if vec := resident(t, v.mem, g.off+far, pageSize); vec[0]&1 != 0 {
				t.Errorf("%s: the page at %d is in memory, though %d bytes of %d are used", names[r], far, used[r], g.size)
			}
		}
	}
	if err := fs.CheckView(); err != nil {
		t.Error(err)
	}
}
