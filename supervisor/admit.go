package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// fuseAdmission is the kernel's rule for who may use a FUSE mount at all
// (fs/fuse/dir.c:fuse_allow_current_process()): with allow_other, anyone;
// without, only a caller whose real, effective and saved uids are all the
// mount's user_id and whose gids are all its group_id. Everyone else gets
// EACCES from the mount, so the supervisor leaves them to the kernel.
type fuseAdmission struct {
	allowOther bool
	uid, gid   uint32
}

// admits reports whether cr may use the mount.
func (a fuseAdmission) admits(cr *taskCred) bool {
	if a.allowOther {
		return true
	}
	for i, id := range cr.ids {
		want := a.uid
		if i >= 3 {
			want = a.gid
		}
		if id != want {
			return false
		}
	}
	return true
}

// readAdmission reads the allow_other, user_id and group_id options of
// the mount whose id is mntID from /proc/self/mountinfo.
func readAdmission(mntID uint64) (fuseAdmission, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fuseAdmission{}, err
	}
	defer f.Close()
	id := strconv.FormatUint(mntID, 10)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, id+" ") {
			continue
		}
		_, after, ok := strings.Cut(line, " - ")
		fields := strings.Fields(after)
		if !ok || len(fields) < 3 {
			break
		}
		return parseAdmission(fields[2])
	}
	return fuseAdmission{}, fmt.Errorf("mount id %d not in /proc/self/mountinfo", mntID)
}

// parseAdmission reads a FUSE mount's super options
// ("rw,user_id=0,group_id=0,default_permissions,allow_other").
func parseAdmission(opts string) (fuseAdmission, error) {
	var a fuseAdmission
	seen := 0
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "allow_other":
			a.allowOther = true
		case "user_id", "group_id":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return a, fmt.Errorf("FUSE mount option %q", o)
			}
			if k == "user_id" {
				a.uid = uint32(n)
			} else {
				a.gid = uint32(n)
			}
			seen++
		}
	}
	if seen != 2 {
		return a, fmt.Errorf("FUSE mount options %q lack user_id or group_id", opts)
	}
	return a, nil
}
