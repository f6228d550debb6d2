// Package preloadlib finds and builds the fast lane's preload library,
// libbtfuse-fast.so, from the C sources in fastlane/preload. It imports
// nothing of btfuse, so that every package's tests can build the library
// (supervisor's included, which package fastlane imports).
package preloadlib

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// LibName is the library's file name; 'just build' puts it next to the
// btfuse binary, where Find looks for it.
const LibName = "libbtfuse-fast.so"

// CFlags are the compiler flags of the library, the same as the Justfile's
// build recipe: a shared, position-independent object; warnings are
// errors; only the interposed functions exported (-fvisibility=hidden);
// null checks kept although libc's headers declare path arguments nonnull
// (programs pass null, and the kernel's answer is EFAULT); no
// _FORTIFY_SOURCE, whose wrappers would replace the functions defined;
// the ELF headers, code and read-only data in one loadable segment
// (-z noseparate-code; binutils makes three on x86-64 by default), since
// every process under 'btfuse run' maps the library: each segment is one
// more mmap at load, one more area each fork copies, and its own page
// faults (the kernel maps the neighbours of a faulting page only within
// its area).
var CFlags = []string{"-shared", "-fPIC", "-O2", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
	"-fvisibility=hidden", "-fno-delete-null-pointer-checks", "-U_FORTIFY_SOURCE", "-Wl,-z,noseparate-code"}

// ErrNoLibrary reports that no preload library lies next to the binary.
var ErrNoLibrary = errors.New("fast lane library " + LibName + " not found next to btfuse")

// Find returns the preload library next to this executable (symlinks
// resolved), or ErrNoLibrary.
func Find() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	lib := filepath.Join(filepath.Dir(exe), LibName)
	st, err := os.Stat(lib)
	if err != nil || !st.Mode().IsRegular() {
		return "", ErrNoLibrary
	}
	return lib, nil
}

// Sources lists the C files of the library in dir (fastlane/preload).
func Sources(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.c"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no C sources in %s", dir)
	}
	return files, nil
}

// SourceDir is fastlane/preload in the source tree this package was
// compiled from: for tests, which build the library themselves.
func SourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(file)), "preload")
}

// TestdataDir is fastlane/testdata, the C helpers of the lane's tests.
func TestdataDir() string {
	return filepath.Join(filepath.Dir(SourceDir()), "testdata")
}

// Build compiles the library from SourceDir into out with gcc (CC if set).
func Build(out string) error {
	dir := SourceDir()
	srcs, err := Sources(dir)
	if err != nil {
		return err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	args := append(append(append([]string(nil), CFlags...), "-o", out), srcs...)
	cmd := exec.Command(cc, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", cc, strings.Join(args, " "), err, b)
	}
	return nil
}
