package posixtest

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Dirent is one linux_dirent64 record as getdents64 returns it.
type Dirent struct {
	Ino  uint64
	Off  int64 // the cookie to lseek to for the entries after this one
	Type uint8
	Name string
}

// Getdents makes one getdents64 call with a buffer of bufSize bytes and
// parses the records. An empty result means end of directory.
func Getdents(fd int, bufSize int) ([]Dirent, unix.Errno) {
	buf := make([]byte, bufSize)
	for {
		n, err := sys.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, Errno(err)
		}
		return parseDirents(buf[:n]), 0
	}
}

// ReadDirents reads fd to the end with buffers of bufSize bytes.
func ReadDirents(fd int, bufSize int) ([]Dirent, unix.Errno) {
	var all []Dirent
	for {
		ents, e := Getdents(fd, bufSize)
		if e != 0 {
			return nil, e
		}
		if len(ents) == 0 {
			return all, 0
		}
		all = append(all, ents...)
	}
}

func parseDirents(b []byte) []Dirent {
	var out []Dirent
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break // a torn record: never trust a length beyond the buffer
		}
		name := b[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		out = append(out, Dirent{
			Ino:  binary.NativeEndian.Uint64(b[0:8]),
			Off:  int64(binary.NativeEndian.Uint64(b[8:16])),
			Type: b[18],
			Name: string(name),
		})
		b = b[reclen:]
	}
	return out
}
