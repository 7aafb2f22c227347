// Package series holds a process's resource counts over time and fits
// growth rates to them: the shared maths and file formats of leakcheck.Soak
// and of the leakwatch command. It knows no resource: a sample is counts
// keyed by category, as leakcheck's Snapshot.Counts and Report.Counts give
// them ("fds", "fds/eventfd", "sockets/tcp CLOSE_WAIT", "threads/worker",
// "goroutines", "processes/sleep 20", "heap"), which leakcheck collects.
//
// A Series holds time-stamped, iteration-numbered samples. Stats gives a
// category's start, end, maximum and Theil–Sen slope per iteration and per
// second over the samples after a warm-up share, so that one-time start-up
// allocations and early outliers do not read as growth. A Series encodes to
// JSON (schema below), renders a summary table (WriteTable) and an SVG line
// chart (WriteSVG) with no dependencies.
//
// # JSON schema
//
// WriteJSON writes, and ReadJSON reads, one object; the schema string changes
// when a field changes meaning:
//
//	{
//	  "schema": "leakcheck.series/v1",
//	  "target": "pid 4242 (server)",
//	  "samples": [
//	    {"iteration": 0, "time": "2025-01-02T15:04:05.123456789Z",
//	     "counts": {"fds": 12, "fds/file": 3, "sockets": 2, "sockets/tcp LISTEN": 1, …}},
//	    …
//	  ]
//	}
//
// Samples are in order of time; a category absent from a sample counted 0 in
// it. Object keys are sorted, so equal series encode to equal bytes.
//
// # Limits
//
// Descriptors, sockets and threads are read on Linux only; elsewhere Sample
// returns an error wrapping errors.ErrUnsupported (from the collectors).
// Thread names are the kernel's comm, at most 15 bytes, so threads that
// number themselves ("pool-1-thread-17") make one category each here;
// leakwatch groups them by threads.Family ("pool-*-thread-*").
package series
