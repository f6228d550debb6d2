package benchsuite

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Fixtures are what workloads start from: file trees, an archive, a Python
// package, SQL. They are generated from a fixed seed, so every mode and
// every round gets the same bytes, and written by the bench process itself
// before a sample's clock starts (through FUSE in the fuse and run modes,
// which share one filesystem).

// perDir is how many entries a generated tree puts in one directory.
const perDir = 100

// content returns size bytes of printable text that differ from file to
// file (a compressor or deduplicator would otherwise have it easy).
func content(r *rand.Rand, size int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \n"
	b := make([]byte, size)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// treeFile is one file of a generated tree: a path relative to its root.
type treeFile struct {
	name string
	data []byte
}

// genTree returns n small files (up to maxSize bytes) spread over
// directories of perDir entries, named dNNN/fNNNN.
func genTree(n, maxSize int, seed uint64) []treeFile {
	r := rand.New(rand.NewPCG(seed, 0))
	files := make([]treeFile, n)
	for i := range files {
		files[i] = treeFile{
			name: fmt.Sprintf("d%03d/f%04d", i/perDir, i),
			data: content(r, r.IntN(maxSize+1)),
		}
	}
	return files
}

// writeTree writes files under root, creating their directories.
func writeTree(root string, files []treeFile) error {
	made := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(root, f.name)
		if d := filepath.Dir(p); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			made[d] = true
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// archives caches generated tar archives by file count: one is built per
// bench, then copied into every sample's directory.
var archives struct {
	sync.Mutex
	byN map[int][]byte
}

// tarArchive returns a tar archive of n small files (up to 4 KiB).
func tarArchive(n int) ([]byte, error) {
	archives.Lock()
	defer archives.Unlock()
	if b, ok := archives.byN[n]; ok {
		return b, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range genTree(n, 4<<10, 3) {
		if d := filepath.Dir(f.name); !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if archives.byN == nil {
		archives.byN = map[int][]byte{}
	}
	archives.byN[n] = buf.Bytes()
	return buf.Bytes(), nil
}

// insertsSQL returns SQL that creates a table and inserts n rows, inside
// one transaction when txn is set, else one implicit transaction (and so
// one journal and one fsync) per row.
func insertsSQL(n int, txn bool) []byte {
	r := rand.New(rand.NewPCG(4, 0))
	var b strings.Builder
	if txn {
		b.WriteString("BEGIN;\n")
	}
	b.WriteString("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, value REAL);\n")
	for i := range n {
		fmt.Fprintf(&b, "INSERT INTO t (name, value) VALUES ('name%08x', %d.%03d);\n", r.Uint32(), i, r.IntN(1000))
	}
	if txn {
		b.WriteString("COMMIT;\n")
	}
	return []byte(b.String())
}

// pyPackage writes the Python package benchpkg under root: n modules in
// subpackages of perPkg, each a class and a few functions, and an
// __init__.py that imports them all, so that 'import benchpkg' opens and
// stats every file of the tree.
func pyPackage(root string, n int) error {
	const perPkg = 10
	pkg := filepath.Join(root, "benchpkg")
	var top strings.Builder
	for i := range n {
		sub := fmt.Sprintf("sub%02d", i/perPkg)
		dir := filepath.Join(pkg, sub)
		if i%perPkg == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "__init__.py"), nil, 0o644); err != nil {
				return err
			}
		}
		mod := fmt.Sprintf("mod%03d", i)
		src := fmt.Sprintf(`"""Generated module %[1]d of the btfuse bench."""

import os

CONSTANT_%[1]d = %[1]d


class Thing%[1]d:
    def __init__(self, value=%[1]d):
        self.value = value

    def double(self):
        return self.value * 2


def add_%[1]d(a, b):
    return a + b + CONSTANT_%[1]d


def path_%[1]d(name):
    return os.path.join("benchpkg", name, str(CONSTANT_%[1]d))
`, i)
		if err := os.WriteFile(filepath.Join(dir, mod+".py"), []byte(src), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&top, "from benchpkg.%s import %s\n", sub, mod)
	}
	return os.WriteFile(filepath.Join(pkg, "__init__.py"), []byte(top.String()), 0o644)
}
