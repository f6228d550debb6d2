package fsimpl

// Hooks through which the external test package installs testutil
// helpers (see hook_test.go): package testutil imports fsimpl, so the
// internal tests cannot import it.
var (
	RequirePrivilegedHook = &requirePrivileged
	TmpfsDirHook          = &tmpfsDir
)
