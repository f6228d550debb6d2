package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Info describes a running daemon. It is written to the registry when the
// daemon is ready and answered by the "info" op. Fields may be added; a
// reader ignores what it does not know.
type Info struct {
	Mount    string    `json:"mount"`
	PID      int       `json:"pid"`
	UID      int       `json:"uid"`
	Start    time.Time `json:"start"`
	Version  string    `json:"version"`  // btfuse version of the daemon
	Protocol int       `json:"protocol"` // control protocol Version
	Socket   string    `json:"socket"`
	// Shm names the daemon's shared-memory segment, when it has one.
	Shm string `json:"shm,omitempty"`
	// Backing says where file contents live.
	Backing string `json:"backing,omitempty"`
	// DataMode is how the FUSE door moves file data (passthrough or
	// close-to-open, and why).
	DataMode string `json:"data_mode,omitempty"`
	// Flags are the mount's setuid and device flags as mount(8) names
	// them: "nosuid,nodev" unless mounted with -o suid or dev.
	Flags string `json:"flags,omitempty"`
	// MountID and Dev identify the daemon's mount (its mount id and the
	// device of its filesystem): Mount is only the path it was mounted
	// on, which a rename above it makes name something else. 0 when the
	// daemon did not say.
	MountID uint64 `json:"mount_id,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
}

// Entry is a live registry entry.
type Entry struct {
	Info
	// Point is where the daemon's mount is now in this process's mount
	// namespace: Mount, unless a directory above it was renamed; "" when
	// the mount is not in this namespace's table. Mount when Info does
	// not identify the mount.
	Point string
	// Err is set when the daemon holds its lock but its control socket
	// does not answer, or when it is Dead.
	Err error
	// Dead: the daemon's pid is gone while its lock is held (a process
	// it forked holds it, or the pid was never its own).
	Dead bool
}

// ErrNotRunning reports that no live daemon is registered for a mount.
var ErrNotRunning = errors.New("no btfuse daemon is registered for this mount")

// StartWait bounds how long Lookup waits for a daemon that holds its entry
// but has not published its Info yet: its mount may already be visible
// while its control socket does not answer, and a command started that
// moment must find it rather than conclude that nobody serves the mount.
const StartWait = 15 * time.Second

// errStarting reports an entry whose lock is held but whose Info is not
// published yet: a daemon starting up (or a command checking the entry for
// an instant).
var errStarting = errors.New("daemon starting")

// StartingError reports a daemon that held its entry for StartWait without
// publishing its Info.
type StartingError struct {
	Mount string
	PID   int // 0 when unknown
}

func (e *StartingError) Error() string {
	who := "a btfuse daemon"
	if e.PID > 0 {
		who = fmt.Sprintf("btfuse daemon pid %d", e.PID)
	}
	return fmt.Sprintf("%s has been starting up for %s for %v without answering: wait and try again, or stop it", who, e.Mount, StartWait)
}

// BusyError reports that a live daemon already holds the entry of a mount.
type BusyError struct {
	Mount string
	PID   int // 0 when the daemon has not published its Info yet
	// Point is where that daemon's mount is now, when a directory above
	// Mount was renamed; "" otherwise.
	Point string
}

func (e *BusyError) Error() string {
	who := "another btfuse daemon"
	if e.PID > 0 {
		who = fmt.Sprintf("btfuse daemon pid %d", e.PID)
	}
	if e.Point != "" {
		return fmt.Sprintf("%s was started on %s and holds that name, but its mount is at %s now: stop it with 'btfuse umount %s'",
			who, e.Mount, e.Point, e.Point)
	}
	return fmt.Sprintf("%s already serves %s: stop it with 'btfuse umount %s'", who, e.Mount, e.Mount)
}

// DefaultDir is the runtime directory of the registry: $BTFUSE_RUNTIME_DIR
// when set, /run/btfuse for root, $XDG_RUNTIME_DIR/btfuse otherwise, and
// /tmp/btfuse-UID for a user without XDG_RUNTIME_DIR (su, sudo -u and
// runuser do not set it). The last is a fixed name, like tmux's, so that
// every shell of the user finds the same daemons; Open refuses it unless
// it is a directory of the user's own, so another user who made it first
// can only make the commands fail, not read or answer them.
func DefaultDir() (string, error) {
	return defaultDir(os.Geteuid(), os.Getenv), nil
}

func defaultDir(euid int, getenv func(string) string) string {
	if d := getenv("BTFUSE_RUNTIME_DIR"); d != "" {
		return d
	}
	if euid == 0 {
		return "/run/btfuse"
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "btfuse")
	}
	return filepath.Join("/tmp", "btfuse-"+strconv.Itoa(euid))
}

// Registry is the directory of running daemons.
type Registry struct {
	dir string
}

// Open opens the registry in dir, creating it with mode 0700. The directory
// must belong to the current user.
func Open(dir string) (*Registry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); errors.Is(err, unix.ENOENT) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create runtime directory: %w", err)
		}
	}
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	// What is not the user's own is not theirs to remove: the advice is
	// then to use another directory.
	if int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("runtime directory %s belongs to uid %d, not to you (uid %d): set BTFUSE_RUNTIME_DIR to a directory of your own", dir, st.Uid, os.Geteuid())
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("runtime directory %s is not a directory: move it away, or set BTFUSE_RUNTIME_DIR to a directory of your own", dir)
	}
	if st.Mode&0o777 != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("chmod runtime directory: %w", err)
		}
	}
	return &Registry{dir: dir}, nil
}

// OpenDefault opens the registry in DefaultDir.
func OpenDefault() (*Registry, error) {
	dir, err := DefaultDir()
	if err != nil {
		return nil, err
	}
	return Open(dir)
}

// Dir is the registry's directory.
func (r *Registry) Dir() string { return r.dir }

// Canonical returns the form of dir the registry is keyed by: absolute,
// cleaned, with symbolic links resolved in its parent. The last component
// is left alone so that a dead FUSE mount there is never touched.
func Canonical(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if abs == "/" {
		return abs, nil
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return abs, nil // the caller reports the missing directory
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}

const keyLen = 16

// Key names the registry files of the daemon serving mount (a canonical
// path).
func Key(mount string) string {
	sum := sha256.Sum256([]byte(mount))
	return hex.EncodeToString(sum[:])[:keyLen]
}

func (r *Registry) path(key, ext string) string { return filepath.Join(r.dir, key+ext) }

// sockExt ends the name of a daemon's control socket in the registry.
const sockExt = ".sock"

// SocketPath is where the daemon registered for mount in the registry
// directory dir listens: for a process that must name the socket before
// any daemon has claimed it (the fast lane's library, through its
// environment).
func SocketPath(dir, mount string) string { return filepath.Join(dir, Key(mount)+sockExt) }

// Claim is a daemon's hold on its registry entry.
type Claim struct {
	r     *Registry
	mount string
	key   string
	lock  *os.File
}

// Claim takes the entry of mount for the calling daemon, clearing what a
// dead daemon left there. It fails with *BusyError while a live daemon holds
// it.
func (r *Registry) Claim(mount string) (*Claim, error) {
	key := Key(mount)
	var lock *os.File
	held := false
	// A command listing the registry holds a free lock for a moment while
	// it checks the entry; only a lock held for longer belongs to a daemon.
	for wait := time.Millisecond; ; wait *= 2 {
		var err error
		lock, held, err = r.lock(key)
		if err != nil {
			return nil, err
		}
		if held || wait > 256*time.Millisecond {
			break
		}
		time.Sleep(wait)
	}
	if !held {
		be := &BusyError{Mount: mount}
		if info, err := r.readInfo(key); err == nil {
			be.PID = info.PID
			if p := pointOf(*info, nil); p != "" && p != mount {
				be.Point = p
			}
		}
		return nil, be
	}
	r.removeFiles(key)
	// The pid in the lock file names the daemon to a command that finds
	// the entry held before the Info is published.
	if err := lock.Truncate(0); err == nil {
		lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Claim{r: r, mount: mount, key: key, lock: lock}, nil
}

// lockPID reads the pid a daemon wrote into its lock file, 0 if none.
func (r *Registry) lockPID(key string) int {
	b, err := os.ReadFile(r.path(key, ".lock"))
	if err != nil || len(b) > 32 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// lock opens KEY.lock and tries to take it. It returns held=false (and a nil
// file) when a live process holds it.
func (r *Registry) lock(key string) (f *os.File, held bool, err error) {
	p := r.path(key, ".lock")
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("open registry lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("lock registry entry: %w", err)
		}
		// Whoever removed a dead entry unlinked the lock file while holding
		// it; a lock on an unlinked file protects nothing, so start over.
		var a, b unix.Stat_t
		if unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(p, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			return f, true, nil
		}
		f.Close()
	}
}

// removeFiles deletes an entry's files but the lock. The caller holds the
// lock.
func (r *Registry) removeFiles(key string) {
	os.Remove(r.path(key, ".json"))
	os.Remove(r.path(key, sockExt))
	if tmps, _ := filepath.Glob(r.path(key, ".*.tmp")); tmps != nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
}

// SocketPath is where the daemon's control socket must listen.
func (c *Claim) SocketPath() string { return c.r.path(c.key, sockExt) }

// Publish writes info (with Mount, Socket and Protocol filled in)
// atomically. Call it once the control socket listens.
func (c *Claim) Publish(info Info) error {
	info.Mount = c.mount
	info.Socket = c.SocketPath()
	info.Protocol = Version
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registry entry: %w", err)
	}
	tmp, err := os.CreateTemp(c.r.dir, c.key+".*.tmp")
	if err != nil {
		return fmt.Errorf("write registry entry: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.r.path(c.key, ".json"))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write registry entry: %w", err)
	}
	return nil
}

// Release removes the entry and gives up the lock.
func (c *Claim) Release() error {
	if c.lock == nil {
		return nil
	}
	c.r.removeFiles(c.key)
	err := os.Remove(c.r.path(c.key, ".lock"))
	c.lock.Close()
	c.lock = nil
	return err
}

func (r *Registry) readInfo(key string) (*Info, error) {
	data, err := os.ReadFile(r.path(key, ".json"))
	if err != nil {
		return nil, err
	}
	info := new(Info)
	if err := json.Unmarshal(data, info); err != nil {
		return nil, fmt.Errorf("registry entry %s: %w", key, err)
	}
	return info, nil
}

// inspect reports the entry for key. A dead entry (nobody holds its lock) is
// removed and reported as ok=false; an entry whose daemon has not published
// its Info yet is reported as errStarting.
func (r *Registry) inspect(ctx context.Context, key string) (e Entry, ok bool, err error) {
	f, held, err := r.lock(key)
	if err != nil {
		return Entry{}, false, err
	}
	if held {
		r.removeFiles(key)
		os.Remove(r.path(key, ".lock"))
		f.Close()
		return Entry{}, false, nil
	}
	info, err := r.readInfo(key)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Entry{}, false, errStarting
		}
		return Entry{}, false, err
	}
	e = Entry{Info: *info}
	if !pidAlive(info.PID) {
		e.Dead = true
		e.Err = fmt.Errorf("daemon pid %d is gone but its lock is held", info.PID)
	} else if err := probe(ctx, info.Socket); err != nil {
		e.Err = fmt.Errorf("control socket does not answer: %w", err)
	}
	return e, true, nil
}

// List returns the live entries sorted by mount path, removing the dead
// ones it meets.
func (r *Registry) List(ctx context.Context) ([]Entry, error) {
	names, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	keys := map[string]bool{}
	for _, n := range names {
		if k, _, ok := strings.Cut(n.Name(), "."); ok && len(k) == keyLen {
			if _, err := hex.DecodeString(k); err == nil {
				keys[k] = true
			}
		}
	}
	var out []Entry
	var errs []error
	for k := range keys {
		e, ok, err := r.inspect(ctx, k)
		if errors.Is(err, errStarting) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, e)
		}
	}
	fillPoints(out)
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Mount, b.Mount) })
	return out, errors.Join(errs...)
}

// Lookup returns the live entry registered for mount (a canonical path),
// or ErrNotRunning. It goes by the name only: whether the daemon's mount
// is still at mount is Resolve's question. An entry held by a daemon that
// is starting up is waited for, up to StartWait (then *StartingError) or
// the end of ctx.
func (r *Registry) Lookup(ctx context.Context, mount string) (Entry, error) {
	key := Key(mount)
	deadline := time.Now().Add(StartWait)
	wait := time.Millisecond
	e, ok, err := r.inspect(ctx, key)
	for errors.Is(err, errStarting) {
		if time.Now().After(deadline) {
			return Entry{}, &StartingError{Mount: mount, PID: r.lockPID(key)}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Entry{}, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
		e, ok, err = r.inspect(ctx, key)
	}
	if err != nil {
		return Entry{}, err
	}
	if !ok || e.Mount != mount {
		return Entry{}, ErrNotRunning
	}
	es := []Entry{e}
	fillPoints(es)
	return es[0], nil
}

// Select returns the live entries a command's DIR argument names: every
// one when dir is "", otherwise the one whose mount is at dir (Resolve).
func (r *Registry) Select(ctx context.Context, dir string) ([]Entry, error) {
	if dir == "" {
		return r.List(ctx)
	}
	e, err := r.Resolve(ctx, dir)
	if err != nil {
		return nil, err
	}
	return []Entry{e}, nil
}

// pidAlive reports whether pid names a process that has not exited (a
// zombie counts as exited).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold any character.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// probe checks that a control socket answers a ping: a daemon out of
// descriptors still has connections queued by the kernel, but answers none.
func probe(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		return err
	}
	defer c.Close()
	var re *RemoteError
	if _, err := c.Call(ctx, OpPing, nil, nil, nil); err != nil && !errors.As(err, &re) {
		return err
	}
	return nil
}
