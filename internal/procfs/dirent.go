package procfs

// AppendDirentNumbers decodes the linux_dirent64 records that getdents64(2)
// filled b with and appends the entry names that are non-negative decimal
// numbers ("." and ".." and any other name are skipped): the fd numbers of
// /proc/PID/fd, the TIDs of /proc/PID/task. A record cut short ends the
// decoding.
func AppendDirentNumbers(out []int, b []byte) []int {
	const nameOff = 19 // d_ino u64, d_off s64, d_reclen u16, d_type u8
	for len(b) >= nameOff {
		reclen := int(b[16]) | int(b[17])<<8
		if reclen < nameOff || reclen > len(b) {
			break
		}
		n, ok := 0, false
		for _, c := range b[nameOff:reclen] {
			if c == 0 {
				break
			}
			if c < '0' || c > '9' || n > (1<<31)/10 {
				ok = false
				break
			}
			n, ok = n*10+int(c-'0'), true
		}
		if ok {
			out = append(out, n)
		}
		b = b[reclen:]
	}
	return out
}
