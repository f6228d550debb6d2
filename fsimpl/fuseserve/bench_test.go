package fuseserve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

// The benchmarks run the same body against a fresh kernel tmpfs and against
// btfuse mounts (passthrough, and close-to-open for contrast), as
// sub-benchmarks of one run, so that ratios come from the same conditions:
//
//	go test -run '^$' -bench . -benchtime 20000x ./fsimpl/fuseserve

type benchTarget struct{ name, dir string }

// compare runs body in a fresh directory of each target. Each call of a
// sub-benchmark (one per b.N tried) gets its own directory.
func compare(b *testing.B, body func(b *testing.B, dir string)) {
	targets := []benchTarget{
		{"tmpfs", testutil.TmpfsDir(b)},
		{"btfuse", mustMount(b, fuseserve.Options{}).dir},
		{"btfuse-c2o", mustMount(b, fuseserve.Options{DisablePassthrough: true}).dir},
	}
	for _, tg := range targets {
		run := 0
		b.Run(tg.name, func(b *testing.B) {
			run++
			dir := filepath.Join(tg.dir, fmt.Sprintf("%s-%d", filepath.Base(b.Name()), run))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			body(b, dir)
			b.StopTimer()
			// Each b.N tried gets a fresh directory; free the last one's
			// files (1 GiB for the sequential benchmarks) before the next.
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func benchFile(b *testing.B, path string, size int) {
	b.Helper()
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkStat(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		p := dir + "/f"
		b.StopTimer()
		benchFile(b, p, 0)
		b.StartTimer()
		var st unix.Stat_t
		for range b.N {
			if err := unix.Stat(p, &st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpenClose(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		p := dir + "/f"
		b.StopTimer()
		benchFile(b, p, 4096)
		b.StartTimer()
		for range b.N {
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

func BenchmarkOpenRead4KClose(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		p := dir + "/f"
		b.StopTimer()
		benchFile(b, p, 4096)
		b.StartTimer()
		buf := make([]byte, 4096)
		for range b.N {
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := unix.Read(fd, buf); n != 4096 || err != nil {
				b.Fatalf("read = %d, %v", n, err)
			}
			unix.Close(fd)
		}
	})
}

func BenchmarkCreateWrite4KClose(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		buf := make([]byte, 4096)
		for i := range b.N {
			fd, err := unix.Open(fmt.Sprintf("%s/f%d", dir, i), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := unix.Write(fd, buf); err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

func BenchmarkMkdir(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		for i := range b.N {
			if err := unix.Mkdir(fmt.Sprintf("%s/d%d", dir, i), 0o755); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUnlink(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		b.StopTimer()
		for i := range b.N {
			benchFile(b, fmt.Sprintf("%s/f%d", dir, i), 0)
		}
		b.StartTimer()
		for i := range b.N {
			if err := unix.Unlink(fmt.Sprintf("%s/f%d", dir, i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReaddir10k lists a directory of 10,000 files (open, getdents
// to the end, close) per iteration, like ls.
func BenchmarkReaddir10k(b *testing.B) { benchReaddir(b, false) }

// BenchmarkReaddirStat10k also lstats every entry, like ls -l.
func BenchmarkReaddirStat10k(b *testing.B) { benchReaddir(b, true) }

func benchReaddir(b *testing.B, stat bool) {
	compare(b, func(b *testing.B, dir string) {
		b.StopTimer()
		for i := range 10000 {
			benchFile(b, fmt.Sprintf("%s/file-with-a-name-%05d", dir, i), 0)
		}
		buf := make([]byte, 32<<10)
		var st unix.Stat_t
		b.StartTimer()
		for range b.N {
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			for {
				n, err := unix.Getdents(fd, buf)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
				if !stat {
					continue
				}
				for _, d := range parseNames(buf[:n]) {
					if err := unix.Fstatat(fd, d, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
						b.Fatal(err)
					}
				}
			}
			unix.Close(fd)
		}
	})
}

// parseNames returns the names in a getdents64 buffer.
func parseNames(b []byte) []string {
	var names []string
	for len(b) >= 19 {
		reclen := int(b[16]) | int(b[17])<<8
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		names = append(names, string(name))
		b = b[reclen:]
	}
	return names
}

func BenchmarkPread4K(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		b.StopTimer()
		benchFile(b, dir+"/f", 1<<20)
		fd := mustOpen(b, dir+"/f", unix.O_RDONLY, 0)
		buf := make([]byte, 4096)
		b.SetBytes(4096)
		b.StartTimer()
		for i := range b.N {
			if _, err := unix.Pread(fd, buf, int64(i%256)*4096); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPwrite4K(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		b.StopTimer()
		benchFile(b, dir+"/f", 1<<20)
		fd := mustOpen(b, dir+"/f", unix.O_WRONLY, 0)
		buf := make([]byte, 4096)
		b.SetBytes(4096)
		b.StartTimer()
		for i := range b.N {
			if _, err := unix.Pwrite(fd, buf, int64(i%256)*4096); err != nil {
				b.Fatal(err)
			}
		}
	})
}

const seqSize = 1 << 30

// BenchmarkSeqWrite writes a 1 GiB file in 1 MiB writes per iteration.
func BenchmarkSeqWrite(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		buf := make([]byte, 1<<20)
		b.SetBytes(seqSize)
		for range b.N {
			fd, err := unix.Open(dir+"/big", unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < seqSize; off += len(buf) {
				if _, err := unix.Write(fd, buf); err != nil {
					b.Fatal(err)
				}
			}
			unix.Close(fd)
		}
	})
}

// BenchmarkSeqRead reads a 1 GiB file in 1 MiB reads per iteration.
func BenchmarkSeqRead(b *testing.B) {
	compare(b, func(b *testing.B, dir string) {
		b.StopTimer()
		benchFile(b, dir+"/big", seqSize)
		buf := make([]byte, 1<<20)
		b.SetBytes(seqSize)
		b.StartTimer()
		for range b.N {
			fd, err := unix.Open(dir+"/big", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			for {
				n, err := unix.Read(fd, buf)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			unix.Close(fd)
		}
	})
}
