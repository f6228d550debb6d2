// Package e2e holds the end-to-end tests of btfuse's doors: the conformance
// suite, the random-operation engine and the name prober of
// internal/posixtest, a fuzz test and a shell session, each run against a
// fresh kernel tmpfs (the reference) and against btfuse, and compared.
//
// Every test mounts through internal/testutil, so mounts go away when a test
// ends, pass or fail. BTFUSE_E2E_TARGET=tmpfs runs every test against a
// second tmpfs instead of btfuse: the harness check, which must pass.
//
// The suites take nothing but directory paths, so a test can also run them
// in a child process: this test binary re-executed with BTFUSE_E2E_CHILD set
// (see child_test.go), which is how the supervised door will run them.
package e2e
