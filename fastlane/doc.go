// Package fastlane is btfuse's fast lane: the preload library (preload/,
// C; built by package preloadlib) that 'btfuse run' loads into dynamically
// linked commands, so that their path calls outside the mount reach the
// kernel from a trampoline page the seccomp filter allows
// (supervisor.BuildFastFilter), and those under the mount go to the daemon
// over a shared-memory channel (preload/channel.h; the daemon side lives
// in this package).
package fastlane
