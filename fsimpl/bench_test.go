package fsimpl

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func BenchmarkCreateUnlink(b *testing.B) {
	for _, kind := range backings() {
		b.Run(kind.String(), func(b *testing.B) {
			fs := newTestFS(b, Options{Backing: kind})
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("f%d", i%64)
				a, f, e := fs.Create(Root, RootIno, name, unix.O_CREAT|unix.O_RDWR, 0o644)
				if e != 0 {
					b.Fatal(e)
				}
				fs.Release(f)
				fs.Forget(a.Ino, 1)
				if e := fs.Unlink(Root, RootIno, name); e != 0 {
					b.Fatal(e)
				}
			}
		})
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	fs := newTestFS(b, Options{Backing: BackingShm})
	d := mustMkdir(b, fs, Root, "d", 0o755)
	for i := 0; i < 1000; i++ {
		mknodT(b, fs, d, fmt.Sprintf("n%d", i))
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a, e := fs.Lookup(alice, d, fmt.Sprintf("n%d", i%1000))
			if e != 0 {
				b.Error(e)
				return
			}
			fs.Forget(a.Ino, 1)
			i++
		}
	})
}

func BenchmarkGetAttrRegular(b *testing.B) {
	fs := newTestFS(b, Options{Backing: BackingShm})
	ino := mustFile(b, fs, Root, "f", 0o644, "data")
	for b.Loop() {
		if _, e := fs.GetAttr(ino); e != 0 {
			b.Fatal(e)
		}
	}
}
