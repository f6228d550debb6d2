package fuseserve

import (
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/fsimpl"
)

// BenchmarkDoor is the door's own cost per request, unobserved and
// observed (to an observer that only counts), with rawFS's handlers called
// directly: without the kernel round trip, whose noise hides a difference
// of a few nanoseconds in the mount benchmarks.
func BenchmarkDoor(b *testing.B) {
	fs, err := fsimpl.New(fsimpl.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Close() })
	root := &fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID, Caller: fuse.Caller{Pid: 42}}
	var d fuse.EntryOut
	if st := newRawFS(fs, Options{}).Mkdir(nil, &fuse.MkdirIn{InHeader: *root, Mode: 0o755}, "d", &d); st != fuse.OK {
		b.Fatal(st)
	}
	for _, c := range []struct {
		name string
		r    *rawFS
	}{
		{"none", newRawFS(fs, Options{})},
		{"observer", newRawFS(fs, Options{Observer: &countObs{}})},
	} {
		// The kernel holds d throughout, as while a tree is in use: the
		// FORGET below never drops its last lookup (nor its path).
		var held fuse.EntryOut
		if st := c.r.Lookup(nil, root, "d", &held); st != fuse.OK {
			b.Fatal(st)
		}
		b.Run("getattr/"+c.name, func(b *testing.B) {
			in := &fuse.GetAttrIn{InHeader: fuse.InHeader{NodeId: d.NodeId, Caller: root.Caller}}
			var out fuse.AttrOut
			b.ReportAllocs()
			for b.Loop() {
				if st := c.r.GetAttr(nil, in, &out); st != fuse.OK {
					b.Fatal(st)
				}
			}
		})
		b.Run("lookup+forget/"+c.name, func(b *testing.B) {
			var out fuse.EntryOut
			b.ReportAllocs()
			for b.Loop() {
				if st := c.r.Lookup(nil, root, "d", &out); st != fuse.OK {
					b.Fatal(st)
				}
				c.r.Forget(out.NodeId, 1)
			}
		})
	}
}
