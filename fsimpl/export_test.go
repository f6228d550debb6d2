package fsimpl

// RequirePrivilegedHook lets the external test package install
// testutil.RequirePrivileged (see hook_test.go).
var RequirePrivilegedHook = &requirePrivileged
