package fsimpl_test

import (
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/testutil"
)

func init() {
	*fsimpl.RequirePrivilegedHook = testutil.RequirePrivileged
	*fsimpl.TmpfsDirHook = testutil.TmpfsDir
}
