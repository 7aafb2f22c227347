// Package procfs holds pure parsers for the text the Linux kernel exposes
// under /proc/PID/fd and /proc/PID/fdinfo. They take strings and bytes, not
// live files, so they are tested against fixtures and fuzzed.
package procfs
