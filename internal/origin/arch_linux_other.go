//go:build linux && !amd64

package origin

// Only amd64 has its syscall numbers and pt_regs offsets written down; on
// other architectures start returns ErrUnavailable before touching bpf().
var (
	regs     ptRegs
	syscalls []syscallClass
)
