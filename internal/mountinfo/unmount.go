package mountinfo

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"
)

// findTries bounds how often Unmount looks the mount up again when its
// point stops naming it between the read of the table and the check (a
// directory above it being renamed meanwhile).
const findTries = 3

// Unmount unmounts the mount id wherever it is now, detaching it when lazy
// is set (MNT_DETACH), and returns the mount point it used. It finds the
// point in the mount table, checks that the point names the root of that
// very mount, and calls umount2 with UMOUNT_NOFOLLOW: neither a path that
// names something else now nor a symbolic link planted in the old place
// can send it to another filesystem. A mount that is not in the table is
// left alone: ErrNotMounted.
//
// A caller who may not umount(2) (EPERM) gets fusermount3 -u, which
// unmounts only the caller's own FUSE mounts and does not follow a
// symbolic link either.
func Unmount(id ID, lazy bool) (string, error) {
	point, err := locate(id)
	if err != nil {
		return point, err
	}
	flags := unix.UMOUNT_NOFOLLOW
	if lazy {
		flags |= unix.MNT_DETACH
	}
	err = unix.Unmount(point, flags)
	if err == nil {
		return point, nil
	}
	if errors.Is(err, unix.EPERM) {
		if path, lerr := exec.LookPath("fusermount3"); lerr == nil {
			args := []string{"-u", point}
			if lazy {
				args = []string{"-u", "-z", point}
			}
			out, ferr := exec.Command(path, args...).CombinedOutput()
			if ferr == nil {
				return point, nil
			}
			return point, fmt.Errorf("fusermount3 %v: %v: %s", args, ferr, bytes.TrimSpace(out))
		}
	}
	if lazy {
		return point, fmt.Errorf("umount -l %s: %w", point, err)
	}
	return point, fmt.Errorf("umount %s: %w", point, err)
}

// locate returns the mount point of id after checking that it names the
// root of id.
func locate(id ID) (string, error) {
	var point string
	for range findTries {
		ms, err := Read()
		if err != nil {
			return "", err
		}
		m := Find(ms, id)
		if m == nil {
			return "", ErrNotMounted
		}
		point = m.Point
		if got, err := RootAt(point); err == nil && got == id {
			return point, nil
		}
	}
	return point, fmt.Errorf("%s does not name mount %d (device %d:%d) any more: it moved again, or something is mounted over it",
		point, id.Mnt, unix.Major(id.Dev), unix.Minor(id.Dev))
}
