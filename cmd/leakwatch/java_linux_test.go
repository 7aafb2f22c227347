package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raftPool is the raft incident in Java: a service restarts its RPC pool
// of eight named threads six times. With "leak", a restart starts a new
// pool and never stops the old one (the threads park forever); with
// "clean", it stops and joins the old pool first. It listens on the port
// it is given once the JVM is up and the first pool runs (the readiness
// handshake), and exits 0
// after the last restart.
const raftPool = `
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

public class RaftPool {
    static int next = 1;

    static List<Thread> startPool(int size) throws InterruptedException {
        List<Thread> pool = new ArrayList<>();
        // Started means named: the JVM names a thread's OS thread before it
        // runs it.
        CountDownLatch started = new CountDownLatch(size);
        for (int i = 0; i < size; i++) {
            Thread t = new Thread(() -> {
                started.countDown();
                try {
                    new CountDownLatch(1).await(); // an RPC processor waiting for work
                } catch (InterruptedException e) {
                    // stopped
                }
            }, "RPC-Processor-" + next++);
            t.setDaemon(true);
            t.start();
            pool.add(t);
        }
        started.await();
        return pool;
    }

    public static void main(String[] args) throws Exception {
        boolean leak = args[0].equals("leak");
        List<Thread> pool = startPool(8); // start-up: the first pool
        ServerSocket ready = new ServerSocket(Integer.parseInt(args[1]), 1, InetAddress.getLoopbackAddress());
        for (int restart = 0; restart < 6; restart++) {
            Thread.sleep(150);
            if (!leak) {
                for (Thread t : pool) t.interrupt();
                for (Thread t : pool) t.join();
            }
            pool = startPool(8);
        }
        System.out.println("restarted");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
`

// TestWatchJavaThreadPool watches a real JVM: each pool thread names
// itself RPC-Processor-N, and all of them count as one category,
// RPC-Processor-*, which grows when the restarts leak and stays flat when
// they do not, with no threshold given.
func TestWatchJavaThreadPool(t *testing.T) {
	for _, tool := range []string{"javac", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH: this test compiles and runs a Java program", tool)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "RaftPool.java")
	require.NoError(t, os.WriteFile(src, []byte(raftPool), 0o600))
	javac, err := exec.Command("javac", "-d", dir, src).CombinedOutput()
	require.NoError(t, err, "javac: %s", javac)

	// Once the JVM says it has restarted its pool for the last time, a
	// Ctrl-C ends the watch, which takes its last look while the JVM still
	// runs.
	watchJava := func(t *testing.T, mode string) (int, string) {
		port := freePort(t)
		return watchUntil(t, "restarted", nil, "--interval=50ms", "--ready-port", port, "--", "java", "-cp", dir, "RaftPool", mode, port)
	}
	row := regexp.MustCompile(`(?m)^  RPC-Processor-\* +(\d+) +(\d+) +(\d+) +(\S+) +(\S+)$`)

	// The two JVMs are independent: they run side by side.
	t.Run("leak", func(t *testing.T) {
		t.Parallel()
		status, out := watchJava(t, "leak")
		require.Equal(t, exitGrowth, status)
		assert.Regexp(t, `(?m)^exceeded: threads/RPC-Processor-\* grew [0-9.]+ per sample`, out, "one category grows")
		m := row.FindStringSubmatch(out)
		require.NotNil(t, m, "one table row for the pool")
		assert.Equal(t, "56", m[2], "the first pool and six restarts, eight each: 56 threads at the end")
		assert.NotRegexp(t, `(?m)^  RPC-Processor-\d`, out, "no row per numbered name")
		assert.Regexp(t, `(?m)^  RPC-Processor-\* \(\d+\):$`, out, "the diff groups the family too")
		assert.Regexp(t, `thread \d+ RPC-Processor-\d+\n`, out, "items keep each thread's own name")
		assert.Regexp(t, `(?m)^java \(pid \d+\) stopped by leakwatch: SIGTERM, exited with status 143$`, out, "the JVM's exit on SIGTERM is no failure")
	})
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		status, out := watchJava(t, "clean")
		require.Equal(t, exitOK, status, "restarts that stop the old pool pass")
		m := row.FindStringSubmatch(out)
		require.NotNil(t, m)
		assert.Equal(t, "8", m[2], "one pool of eight at the end")
		assert.NotContains(t, out, "exceeded:")
	})
}
