# Captures testdata/proc/PID from a live process with named threads.
# Run from internal/threads: python3 testdata/gen.py
import ctypes, os, shutil, threading

libc = ctypes.CDLL(None)
PR_SET_NAME = 15
names = [b"JRaft-RPC-Proc", b"worker 2", b"fifteen-bytes-x", "naïve-✓".encode()]
ready, done = threading.Barrier(len(names) + 1), threading.Event()

def named(name):
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)
    ready.wait()
    done.wait()

for n in names:
    threading.Thread(target=named, args=(n,)).start()
ready.wait()
pid = os.getpid()
dst = os.path.join("testdata", "proc", str(pid))
shutil.rmtree(os.path.join("testdata", "proc"), ignore_errors=True)
for tid in os.listdir(f"/proc/{pid}/task"):
    os.makedirs(f"{dst}/task/{tid}")
    shutil.copyfile(f"/proc/{pid}/task/{tid}/comm", f"{dst}/task/{tid}/comm")
shutil.copyfile(f"/proc/{pid}/status", f"{dst}/status")
# A thread that exits between the directory listing and the comm read
# leaves a task directory without a readable comm.
os.makedirs(f"{dst}/task/999999")
open(f"{dst}/task/999999/stat", "w").write("exited\n")
done.set()
print(pid)
