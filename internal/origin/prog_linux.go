package origin

import (
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// What the program does with a syscall that returned ret >= 0, by number
// (one byte per syscall in the classes table).
const (
	classNone     = iota
	classFD       // ret is the new descriptor
	classDup2     // dup2(old, new): ret is new, unless old == new (nothing created)
	classFcntl    // fcntl(fd, cmd, …): ret is a new descriptor for F_DUPFD and F_DUPFD_CLOEXEC
	classPair     // pipe, pipe2: two descriptors at the int[2] that arg 0 points to
	classPairArg3 // socketpair: the same at arg 3
	classClone    // clone(flags, stack, parent_tid, …): ret is a child unless CLONE_THREAD; with CLONE_PIDFD a pidfd at *parent_tid
	classClone3   // clone3(struct clone_args *, size): the same with flags and the pidfd pointer in the struct
	classFork     // fork, vfork: ret is a child
	classWait4    // wait4(pid, status, options, …): ret is a reaped child, unless options ask for stops
	classWaitid   // waitid(idtype, id, infop, options): infop->si_pid was reaped if si_code says exited, unless WNOWAIT
)

// syscallClass is one recorded syscall of an architecture.
type syscallClass struct {
	nr    int
	name  string
	class uint8
}

// ptRegs holds the offsets in struct pt_regs that the program reads at
// sys_exit.
type ptRegs struct {
	nr   int16    // the syscall number
	args [4]int16 // the first four arguments
}

// Layout of a record (the value of the fds and children maps, and of the
// per-CPU scratch it is built in):
//
//	struct record {
//		u64 ktime;          // bpf_ktime_get_ns at sys_exit (CLOCK_MONOTONIC)
//		u32 tid, nr;        // thread (in the caller's PID namespace), syscall number
//		s32 stack_bytes;    // what bpf_get_stack wrote into pcs
//		u32 pad;
//		u64 pcs[maxFrames]; // user stack, innermost first
//	};
const (
	maxFrames     = 96
	recKtime      = 0
	recTID        = 8 // u32 tid then u32 nr: one 8-byte store
	recBytes      = 16
	recPCs        = 24
	recordSize    = recPCs + 8*maxFrames
	numClasses    = 512        // syscall numbers below this are looked up
	globalsLost   = numClasses // u64 count of records a full map refused, after the classes
	globalsSize   = numClasses + 8
	maskFDA       = 1 // record the descriptor at key A
	maskFDB       = 2 // … and the one at key B (pairs)
	maskChild     = 4 // record the child at the child key
	cloneThread   = unix.CLONE_THREAD
	clonePidfd    = unix.CLONE_PIDFD
	fDupfd        = unix.F_DUPFD
	fDupfdCloexec = unix.F_DUPFD_CLOEXEC
	waitStops     = unix.WUNTRACED | unix.WCONTINUED
	waitNoWait    = unix.WNOWAIT
	cldDumped     = 3 // si_code CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3: the child is gone
)

// Stack slots of the program, below the frame pointer.
const (
	slotTmp      = -8  // u64: what the last probe read returned; bpf_pidns_info {pid, tgid}
	slotTID      = -16 // u32 tid, then u32 nr at -12
	slotNR       = -12
	slotArgs     = -32 // 16 bytes of struct clone_args: flags, pidfd pointer
	slotSiginfo  = -40 // 24 bytes of siginfo_t over keys A, B and args: si_code at +8, si_pid at +16
	slotKeyA     = -40 // u32 descriptor keys A and B (B at -36: a pair read lands in both)
	slotKeyB     = -36
	slotKeyChild = -44
	slotZero     = -48 // u32 0: the scratch key
)

// progConfig is what one tracer's program is built for.
type progConfig struct {
	tgid           int32  // the target, in the caller's PID namespace
	nsDev, nsInode uint64 // that namespace, for bpf_get_ns_current_pid_tgid; 0 in the initial one
	globals        int    // map fds
	scratch        int
	fds, children  int
	regs           ptRegs
}

// instructions returns the sys_exit raw tracepoint program. ctx is
// u64 args[2]: struct pt_regs *regs, long ret. Every syscall of every
// process runs it, so it leaves at the first test that fails: the thread
// group, then ret, then the syscall's class; only then does it walk the
// stack.
func instructions(c progConfig) asm.Instructions {
	readArg := func(i int) asm.Instructions { // r0 = regs->args[i], or leave
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, slotTmp),
			asm.Mov.Imm(asm.R2, 8),
			asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
			asm.Add.Imm(asm.R3, int32(c.regs.args[i])),
			asm.FnProbeReadKernel.Call(),
			asm.JNE.Imm(asm.R0, 0, "exit"),
			asm.LoadMem(asm.R0, asm.RFP, slotTmp, asm.DWord),
		}
	}
	readUser := func(slot int16, size int32, label string) asm.Instructions { // *slot = *(user *)r0, or go to label
		return asm.Instructions{
			asm.Mov.Reg(asm.R3, asm.R0),
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(slot)),
			asm.Mov.Imm(asm.R2, size),
			asm.FnProbeReadUser.Call(),
			asm.JNE.Imm(asm.R0, 0, label),
		}
	}
	// store puts the record in m[*slot], then goes on at done. A number
	// seen before has an element already: the record is copied into it
	// (bpf_probe_read_kernel as memcpy), which costs less than an update
	// of a map that allocates per element (a new element, the old one
	// freed after an RCU grace period). Only new numbers are updated,
	// and refusals (a full map) counted.
	store := func(m int, slot int16, done string) asm.Instructions {
		fresh := done + "_new"
		return asm.Instructions{
			asm.LoadMapPtr(asm.R1, m),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, int32(slot)),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, fresh),
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.Mov.Imm(asm.R2, recordSize),
			asm.Mov.Reg(asm.R3, asm.R7),
			asm.FnProbeReadKernel.Call(),
			asm.Ja.Label(done),
			asm.LoadMapPtr(asm.R1, m).WithSymbol(fresh),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, int32(slot)),
			asm.Mov.Reg(asm.R3, asm.R7),
			asm.Mov.Imm(asm.R4, 0), // BPF_ANY
			asm.FnMapUpdateElem.Call(),
			asm.JEq.Imm(asm.R0, 0, done),
			asm.LoadMapValue(asm.R1, c.globals, globalsLost),
			asm.Mov.Imm(asm.R2, 1),
			asm.StoreXAdd(asm.R1, asm.R2, asm.DWord),
			asm.Ja.Label(done),
		}
	}
	var p asm.Instructions
	add := func(is ...asm.Instruction) { p = append(p, is...) }
	addAll := func(iss ...asm.Instructions) {
		for _, is := range iss {
			p = append(p, is...)
		}
	}

	// Thread group first: r7 = tid.
	add(asm.Mov.Reg(asm.R6, asm.R1))
	if c.nsInode == 0 {
		add(
			asm.FnGetCurrentPidTgid.Call(),
			asm.Mov.Reg32(asm.R7, asm.R0),
			asm.RSh.Imm(asm.R0, 32),
			asm.JNE.Imm(asm.R0, c.tgid, "exit"),
		)
	} else {
		add(
			asm.LoadImm(asm.R1, int64(c.nsDev), asm.DWord),
			asm.LoadImm(asm.R2, int64(c.nsInode), asm.DWord),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, slotTmp),
			asm.Mov.Imm(asm.R4, 8),
			asm.FnGetNsCurrentPidTgid.Call(),
			asm.JNE.Imm(asm.R0, 0, "exit"),
			asm.LoadMem(asm.R0, asm.RFP, slotTmp+4, asm.Word),
			asm.JNE.Imm(asm.R0, c.tgid, "exit"),
			asm.LoadMem(asm.R7, asm.RFP, slotTmp, asm.Word),
		)
	}
	add(
		asm.StoreMem(asm.RFP, slotTID, asm.R7, asm.Word),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, slotKeyA, asm.R1, asm.DWord), // keys A and B
		asm.StoreMem(asm.RFP, slotZero, asm.R1, asm.DWord), // zero and child keys

		// Then success: r8 = ret.
		asm.LoadMem(asm.R8, asm.R6, 8, asm.DWord),
		asm.JSLT.Imm(asm.R8, 0, "exit"),

		// Then the class of the syscall: r9.
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, slotTmp),
		asm.Mov.Imm(asm.R2, 8),
		asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
		asm.Add.Imm(asm.R3, int32(c.regs.nr)),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.RFP, slotTmp, asm.DWord),
		asm.JGT.Imm(asm.R1, numClasses-1, "exit"),
		asm.StoreMem(asm.RFP, slotNR, asm.R1, asm.Word),
		asm.LoadMapValue(asm.R2, c.globals, 0),
		asm.Add.Reg(asm.R2, asm.R1),
		asm.LoadMem(asm.R9, asm.R2, 0, asm.Byte),
		asm.JEq.Imm(asm.R9, classFD, "fd"),
		asm.JEq.Imm(asm.R9, classDup2, "dup2"),
		asm.JEq.Imm(asm.R9, classFcntl, "fcntl"),
		asm.JEq.Imm(asm.R9, classPair, "pair"),
		asm.JEq.Imm(asm.R9, classPairArg3, "pair3"),
		asm.JEq.Imm(asm.R9, classClone, "clone"),
		asm.JEq.Imm(asm.R9, classClone3, "clone3"),
		asm.JEq.Imm(asm.R9, classFork, "fork"),
		asm.JEq.Imm(asm.R9, classWait4, "wait4"),
		asm.JEq.Imm(asm.R9, classWaitid, "waitid"),
		asm.Ja.Label("exit"),
	)

	// wait4 and waitid that reap a child forget it: the children map
	// holds the target's live and zombie children only. (PIDs are
	// allocated cyclically, so a new child does not get the number back
	// before this deletion runs.)
	add(asm.JEq.Imm(asm.R8, 0, "exit").WithSymbol("wait4")) // WNOHANG, nothing to reap
	addAll(readArg(2))
	add(
		asm.JSet.Imm(asm.R0, waitStops, "exit"), // may report a stop, not a reap
		asm.StoreMem(asm.RFP, slotKeyChild, asm.R8, asm.Word),
		asm.Ja.Label("reap"),
	)
	addAll(withSymbol("waitid", readArg(3)))
	add(asm.JSet.Imm(asm.R0, waitNoWait, "exit"))
	addAll(readArg(2))
	add(asm.JEq.Imm(asm.R0, 0, "exit"))
	addAll(readUser(slotSiginfo, 24, "exit"))
	add(
		asm.LoadMem(asm.R1, asm.RFP, slotSiginfo+8, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "exit"), // WNOHANG, nothing to reap
		asm.JGT.Imm(asm.R1, cldDumped, "exit"),
		asm.LoadMem(asm.R1, asm.RFP, slotSiginfo+16, asm.Word),
		asm.JSLE.Imm32(asm.R1, 0, "exit"),
		asm.StoreMem(asm.RFP, slotKeyChild, asm.R1, asm.Word),
		asm.LoadMapPtr(asm.R1, c.children).WithSymbol("reap"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, slotKeyChild),
		asm.FnMapDeleteElem.Call(),
		asm.Ja.Label("exit"),
	)

	// dup2(n, n) returns n and creates nothing.
	addAll(withSymbol("dup2", readArg(0)))
	add(
		asm.JEq.Reg(asm.R0, asm.R8, "exit"),
		asm.Ja.Label("fd"),
	)

	// fcntl: only the two duplicating commands.
	addAll(withSymbol("fcntl", readArg(1)))
	add(
		asm.JEq.Imm(asm.R0, fDupfd, "fd"),
		asm.JEq.Imm(asm.R0, fDupfdCloexec, "fd"),
		asm.Ja.Label("exit"),
	)

	// pipe, pipe2, socketpair: int fds[2] in user memory, into keys A and B.
	addAll(
		withSymbol("pair", readArg(0)),
		asm.Instructions{asm.Ja.Label("pair_read")},
		withSymbol("pair3", readArg(3)),
		withSymbol("pair_read", readUser(slotKeyA, 8, "exit")),
	)
	add(
		asm.Mov.Imm(asm.R9, maskFDA|maskFDB),
		asm.Ja.Label("record"),
	)

	// fork, vfork: ret is the child (0 in the child, which is another
	// thread group anyway).
	add(
		asm.JEq.Imm(asm.R8, 0, "exit").WithSymbol("fork"),
		asm.StoreMem(asm.RFP, slotKeyChild, asm.R8, asm.Word),
		asm.Mov.Imm(asm.R9, maskChild),
		asm.Ja.Label("record"),
	)

	// clone: flags in arg 0; with CLONE_PIDFD the pidfd is at *arg 2.
	add(asm.JEq.Imm(asm.R8, 0, "exit").WithSymbol("clone"))
	addAll(readArg(0))
	add(
		asm.JSet.Imm(asm.R0, cloneThread, "exit"),
		asm.StoreMem(asm.RFP, slotKeyChild, asm.R8, asm.Word),
		asm.Mov.Imm(asm.R9, maskChild),
		asm.JSet.Imm(asm.R0, clonePidfd, "clone_pidfd"),
		asm.Ja.Label("record"),
	)
	addAll(
		withSymbol("clone_pidfd", readArg(2)),
		readUser(slotKeyA, 4, "record"),
	)
	add(
		asm.Or.Imm(asm.R9, maskFDA),
		asm.Ja.Label("record"),
	)

	// clone3: struct clone_args at arg 0 starts with u64 flags, u64 pidfd.
	add(asm.JEq.Imm(asm.R8, 0, "exit").WithSymbol("clone3"))
	addAll(
		readArg(0),
		readUser(slotArgs, 16, "exit"),
	)
	add(
		asm.LoadMem(asm.R1, asm.RFP, slotArgs, asm.DWord),
		asm.JSet.Imm(asm.R1, cloneThread, "exit"),
		asm.StoreMem(asm.RFP, slotKeyChild, asm.R8, asm.Word),
		asm.Mov.Imm(asm.R9, maskChild),
		asm.JSet.Imm(asm.R1, clonePidfd, "clone3_pidfd"),
		asm.Ja.Label("record"),
		asm.LoadMem(asm.R0, asm.RFP, slotArgs+8, asm.DWord).WithSymbol("clone3_pidfd"),
	)
	addAll(readUser(slotKeyA, 4, "record"))
	add(
		asm.Or.Imm(asm.R9, maskFDA),
		asm.Ja.Label("record"),
	)

	// One new descriptor: ret, at key A.
	add(
		asm.StoreMem(asm.RFP, slotKeyA, asm.R8, asm.Word).WithSymbol("fd"),
		asm.Mov.Imm(asm.R9, maskFDA),
	)

	// Build the record in this CPU's scratch (r7), then store it under
	// each key r9 names.
	add(
		asm.Mov.Reg(asm.R2, asm.RFP).WithSymbol("record"),
		asm.Add.Imm(asm.R2, slotZero),
		asm.LoadMapPtr(asm.R1, c.scratch),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R1, asm.RFP, slotTID, asm.DWord), // tid and nr
		asm.StoreMem(asm.R7, recTID, asm.R1, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R7, recKtime, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Add.Imm(asm.R2, recPCs),
		asm.Mov.Imm(asm.R3, 8*maxFrames),
		asm.Mov.Imm(asm.R4, unix.BPF_F_USER_STACK),
		asm.FnGetStack.Call(),
		asm.JSGE.Imm(asm.R0, 0, "stack_done"),
		asm.Mov.Imm(asm.R0, 0),
		asm.StoreMem(asm.R7, recBytes, asm.R0, asm.Word).WithSymbol("stack_done"),

		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, maskFDA),
		asm.JEq.Imm(asm.R1, 0, "skip_a"),
	)
	addAll(store(c.fds, slotKeyA, "skip_a"))
	add(
		asm.Mov.Reg(asm.R1, asm.R9).WithSymbol("skip_a"),
		asm.And.Imm(asm.R1, maskFDB),
		asm.JEq.Imm(asm.R1, 0, "skip_b"),
	)
	addAll(store(c.fds, slotKeyB, "skip_b"))
	add(
		asm.Mov.Reg(asm.R1, asm.R9).WithSymbol("skip_b"),
		asm.And.Imm(asm.R1, maskChild),
		asm.JEq.Imm(asm.R1, 0, "exit"),
	)
	addAll(store(c.children, slotKeyChild, "exit"))

	add(
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return p
}

// withSymbol labels the first instruction of is.
func withSymbol(name string, is asm.Instructions) asm.Instructions {
	out := append(asm.Instructions(nil), is...)
	out[0] = out[0].WithSymbol(name)
	return out
}
