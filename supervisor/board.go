package supervisor

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A Board is one page of memory shared between 'btfuse run' and the daemon
// that serves its listener: each receiving thread of the daemon writes
// there the id of the notification it received last. It exists for the
// daemon's death. The kernel keeps a notification the daemon had received
// (state SENT) pending until someone answers it by id, from any descriptor
// of the listener; if nobody does, the target thread waits forever. 'btfuse
// run', which keeps a copy of the listener, reads the ids back (TakeOver)
// and answers them.
//
// The page is an anonymous memory file sealed against shrinking, so that
// the daemon's mapping can never lose its page (a store past the end of a
// truncated file is SIGBUS, which a Go program cannot recover from) whoever
// created it. The daemon only writes to it: nothing it reads there decides
// anything.
type Board struct {
	f   *os.File
	mem []byte
}

// boardSize is the size of a board: one page, boardSlots ids.
const (
	boardSize  = 4096
	boardSlots = boardSize / 8
)

// boardSeals are the seals a board must carry before a daemon maps it.
const boardSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// NewBoard makes an empty board ('btfuse run' side).
func NewBoard() (*Board, error) {
	fd, err := unix.MemfdCreate("btfuse-board", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("create the notification board: %w", err)
	}
	f := os.NewFile(uintptr(fd), "btfuse-board")
	if err := unix.Ftruncate(fd, boardSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("size the notification board: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, boardSeals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal the notification board: %w", err)
	}
	b, err := mapBoard(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// OpenBoard maps a board received from 'btfuse run' (daemon side). It
// takes f only on success. A file that is not a sealed one-page memory
// file is refused.
func OpenBoard(f *os.File) (*Board, error) {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("notification board: not a memory file: %w", err)
	}
	if seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL) != unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL ||
		seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 {
		return nil, fmt.Errorf("notification board: seals %#x, want shrink and seal, no write", seals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("notification board: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < boardSize {
		return nil, errors.New("notification board: not a regular file of one page")
	}
	return mapBoard(f)
}

func mapBoard(f *os.File) (*Board, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, boardSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map the notification board: %w", err)
	}
	return &Board{f: f, mem: mem}, nil
}

// File is the board's memory file, to pass to the daemon.
func (b *Board) File() *os.File { return b.f }

// Close unmaps the board and closes its file.
func (b *Board) Close() error {
	if b == nil || b.mem == nil {
		return nil
	}
	unix.Munmap(b.mem)
	b.mem = nil
	return b.f.Close()
}

// publish records that receiver i got notification id. It is on the
// receive path: one atomic store.
func (b *Board) publish(i int, id uint64) {
	b.slot(i % boardSlots).Store(id)
}

// ids returns the ids on the board, without the empty slots.
func (b *Board) ids() []uint64 {
	var out []uint64
	for i := range boardSlots {
		if v := b.slot(i).Load(); v != 0 {
			out = append(out, v)
		}
	}
	return out
}
