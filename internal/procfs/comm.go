package procfs

import (
	"os"
	"strconv"
	"strings"
)

// Comm returns the name of thread tid (/proc/TID/comm), "" when it cannot
// be read (the thread is gone): what fault rules' comm= compares.
func Comm(tid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
