package threads

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFamily(t *testing.T) {
	for _, tc := range []struct{ name, want, why string }{
		{"RPC-Processor-1", "RPC-Processor-*", "the raft incident's pool: a trailing counter after a dash"},
		{"RPC-Processor-12", "RPC-Processor-*", "any number of digits is one counter"},
		{"pool-1-thread-3", "pool-*-thread-*", "java.util.concurrent's default names: pool number and thread number are both counters"},
		{"ForkJoinPool-1-", "ForkJoinPool-*-", "a name cut at the kernel's 15 bytes still groups"},
		{"GC Thread#0", "GC Thread#*", "the JVM's GC workers: a counter after #"},
		{"G1 Conc#0", "G1 Conc#*", "digits glued to a letter inside the name are part of a word (G1), the trailing one is a counter"},
		{"C2 CompilerThre", "C2 CompilerThre", "C1 and C2 compiler threads stay apart"},
		{"worker3", "worker*", "a trailing number glued to a word is a counter: worker%d pools"},
		{"h2", "h*", "decided: a trailing number counts even here, so h2 and h3 merge; merging never hides growth"},
		{"python3", "python*", "the same rule for a process's own name: consistent, if less pretty"},
		{"x86_64", "x86_*", "glued inside a word stays, after an underscore it is a counter"},
		{"k8s-watch", "k8s-watch", "digits between letters are a word"},
		{"12", "*", "decided: digits-only names (threads named by an id) are one family, *"},
		{"1worker", "*worker", "a leading number is a counter"},
		{"worker", "worker", "no digits: unchanged"},
		{"worker 2", "worker *", "a counter after a space"},
		{"JRaft-RPC-Proc", "JRaft-RPC-Proc", "no digits: unchanged"},
		{"naïve2x", "naïve2x", "a non-ASCII letter before the digits glues them too"},
		{"", "", "an empty name stays empty"},
		{"a*", "a*", "a star is kept as it is"},
	} {
		assert.Equal(t, tc.want, Family(tc.name), "%q: %s", tc.name, tc.why)
	}
}

func FuzzFamily(f *testing.F) {
	for _, s := range []string{"RPC-Processor-1", "pool-1-thread-3", "G1 Conc#0", "h2", "12", "naïve-✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fam := Family(name)
		if again := Family(fam); again != fam {
			t.Fatalf("Family(%q) = %q, but Family(%q) = %q: not idempotent", name, fam, fam, again)
		}
		if len(fam) > len(name) {
			t.Fatalf("Family(%q) = %q is longer than the name", name, fam)
		}
	})
}
