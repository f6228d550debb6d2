package event

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestClassify(t *testing.T) {
	opStat := Register("test-stat", ExpectLookup...)
	opUnlink := Register("test-unlink")
	tests := []struct {
		op   Op
		e    unix.Errno
		want Outcome
	}{
		{OpLookup, unix.ENOENT, Expected},
		{OpLookup, unix.EACCES, Error},
		{OpLookup, unix.EIO, Error},
		{OpGetXattr, unix.ENODATA, Expected},
		{OpGetXattr, unix.EOPNOTSUPP, Expected},
		{OpGetXattr, unix.ERANGE, Expected},
		{OpListXattr, unix.ERANGE, Expected},
		{OpCreate, unix.EEXIST, Expected},
		{OpCreate, unix.ENOSPC, Error},
		{OpMkdir, unix.EEXIST, Expected},
		{OpAccess, unix.EACCES, Expected},
		{OpWrite, unix.ENOSPC, Error},
		{OpSetLk, unix.EAGAIN, Expected},
		{OpLseek, unix.ENXIO, Expected},
		{opStat, unix.ENOENT, Expected},
		{opStat, unix.EIO, Error},
		{opUnlink, unix.ENOENT, Error},
		{OpLookup, unix.Errno(4095), Error}, // beyond the sets' range
		{Op(MaxOps + 5), unix.ENOENT, Error},
	}
	for _, tt := range tests {
		if got := Classify(tt.op, tt.e); got != tt.want {
			t.Errorf("Classify(%v, %v) = %v, want %v", tt.op, unix.ErrnoName(tt.e), got, tt.want)
		}
	}
}
