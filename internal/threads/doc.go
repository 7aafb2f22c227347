// Package threads lists the OS threads of the current process or of another
// process by PID, with the names threads give themselves (prctl PR_SET_NAME,
// pthread_setname_np), for leakcheck's thread collector.
//
// On Linux it reads /proc/PID/task/*/comm; Count reads the link count of
// /proc/PID/task (one stat), or the Threads: line of /proc/PID/status. The
// FS variants take any fs.FS rooted like /proc, so tests and tools can use a
// fake or a differently mounted tree. Elsewhere List and Count return an
// error wrapping errors.ErrUnsupported.
//
// Thread names are world-readable on a default /proc, so listing another
// user's process works without privileges; /proc mounted with hidepid=1 or
// 2, or a process that is gone, is reported as an error wrapping
// os.ErrPermission or os.ErrNotExist that names the PID.
//
// Family groups names that differ only in their counters ("RPC-Processor-1",
// "RPC-Processor-2" → "RPC-Processor-*"), so a pool is one category; OwnNames
// gives the names of threads that never named themselves (the Go runtime's).
package threads
