package fdsnap

// CountByListing makes Count list /proc/PID/fd, as on kernels before 6.2,
// until the returned function is called.
func CountByListing() (restore func()) {
	sizeIsCount = false
	return func() { sizeIsCount = true }
}
