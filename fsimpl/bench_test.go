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

// BenchmarkMutateAt measures fsimpl's own part of a lane's mutation, as
// the seccomp and fast lanes make it (the *At calls, with the metadata
// view published or not): mkdir+rmdir, and a creating open+release+unlink
// of a regular file (its backing file's create, close and unlink).
func BenchmarkMutateAt(b *testing.B) {
	for _, view := range []bool{false, true} {
		fs := newTestFS(b, Options{Backing: BackingShm})
		if view {
			fd, err := fs.View()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { unix.Close(fd) })
		}
		at := func(name string) *At { return &At{Cred: Root, Dir: RootIno, Path: name, Mount: "/m"} }
		b.Run(fmt.Sprintf("mkdir+rmdir/view=%v", view), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("d%d", i%64)
				if _, e := fs.MkdirAt(at(name), 0o755); e != 0 {
					b.Fatal(e)
				}
				if e := fs.UnlinkAt(at(name), true); e != 0 {
					b.Fatal(e)
				}
			}
		})
		b.Run(fmt.Sprintf("create+unlink/view=%v", view), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("f%d", i%64)
				f, e := fs.OpenAt(at(name), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, 0o644, true)
				if e != 0 {
					b.Fatal(e)
				}
				fs.Release(f)
				if e := fs.UnlinkAt(at(name), false); e != 0 {
					b.Fatal(e)
				}
			}
		})
	}
}
