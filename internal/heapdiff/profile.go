package heapdiff

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/pprof"
	"sync"
)

// DefaultRate is the runtime.MemProfileRate a Window sets: 1 records every
// allocation, so profiles count exactly and need no scaling.
const DefaultRate = 1

// rate guards runtime.MemProfileRate: Windows open at the same time share
// one raised rate, and the last to close restores the rate they found.
var rate struct {
	sync.Mutex
	holders int
	saved   int
	set     int
}

// SetRate sets runtime.MemProfileRate to r and returns the function that
// puts back the rate it replaced (calling it again does nothing).
//
// Changing the rate while the program runs is safe: each P's allocator
// notices the new rate at its next allocation (Go 1.25 to 1.27 compare the
// rate they sampled under with the current one on every allocation). What
// was allocated before keeps the sampling it had: objects allocated
// unsampled are invisible to every later profile, allocated and freed
// alike. So two profiles to compare must both be taken after the raise,
// and their difference only speaks of what was allocated after it (see
// Window).
//
// SetRate while another caller holds a different rate is an error; the same
// rate is shared.
func SetRate(r int) (restore func(), err error) {
	if r < 1 {
		return nil, fmt.Errorf("heapdiff: SetRate(%d): want a rate ≥ 1 (1 records every allocation)", r)
	}
	rate.Lock()
	defer rate.Unlock()
	if rate.holders > 0 && rate.set != r {
		return nil, fmt.Errorf("heapdiff: SetRate(%d): the profiling rate is already %d for another measurement", r, rate.set)
	}
	if rate.holders == 0 {
		rate.saved = runtime.MemProfileRate
		rate.set = r
		runtime.MemProfileRate = r
	}
	rate.holders++
	var once sync.Once
	return func() {
		once.Do(func() {
			rate.Lock()
			defer rate.Unlock()
			rate.holders--
			if rate.holders == 0 {
				runtime.MemProfileRate = rate.saved
			}
		})
	}, nil
}

// Profile is the heap in use at one moment, by allocation site.
type Profile struct {
	// Rate is runtime.MemProfileRate when the profile was captured: 1 means
	// every allocation was recorded; above 1 the counts are estimates.
	Rate    int
	Records []Record // one per allocation stack with memory in use
	// Proto is the same moment as runtime/pprof writes it (gzipped
	// protobuf), for go tool pprof -diff_base before.pb.gz after.pb.gz.
	Proto []byte
}

// Record is the heap in use from one allocation stack.
type Record struct {
	// Stack holds the return addresses of the allocating call stack,
	// innermost first, as runtime.Callers returns them (runtime.MemProfile
	// keeps 32 at most).
	Stack   []uintptr
	Bytes   int64 // in use, counted at size class
	Objects int64 // in use
}

// Capture runs Collect and captures the heap profile.
//
// runtime.MemProfile describes the heap as of the last completed
// collection: allocations since are not in it, and neither are frees that
// collection's sweep has not done. runtime.GC() returns after sweeping and
// publishing, so right after Collect the profile is the heap Collect left
// (TestProfileAsOfLastGC).
func Capture() (*Profile, error) {
	Collect()
	return capture()
}

func capture() (*Profile, error) {
	rate.Lock()
	defer rate.Unlock()
	p := &Profile{Rate: runtime.MemProfileRate}
	if p.Rate <= 0 {
		return nil, errors.New("heapdiff: heap profiling is off (runtime.MemProfileRate is 0)")
	}
	recs := memProfile()
	byStack := make(map[string]int, len(recs))
	for i := range recs {
		r := &recs[i]
		b, o := scale(r.InUseBytes(), r.InUseObjects(), p.Rate)
		stk := r.Stack()
		k := stackKey(stk)
		if j, ok := byStack[k]; ok {
			p.Records[j].Bytes += b
			p.Records[j].Objects += o
			continue
		}
		byStack[k] = len(p.Records)
		p.Records = append(p.Records, Record{Stack: append([]uintptr(nil), stk...), Bytes: b, Objects: o})
	}
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
		return nil, fmt.Errorf("heapdiff: writing the heap profile: %w", err)
	}
	p.Proto = buf.Bytes()
	return p, nil
}

// memProfile returns the in-use records of runtime.MemProfile.
func memProfile() []runtime.MemProfileRecord {
	n, _ := runtime.MemProfile(nil, false)
	for {
		recs := make([]runtime.MemProfileRecord, n+n/4+16)
		m, ok := runtime.MemProfile(recs, false)
		if ok {
			return recs[:m]
		}
		n = m
	}
}

// scale turns the sampled counts of one runtime record into estimates.
// The runtime keeps one record per stack and object size, so every object
// of a record has the size bytes/objects; an object of size s is sampled
// with probability 1−exp(−s/rate) (sampling is a Poisson process with one
// sample every rate bytes on average), and each sample stands for the
// inverse of that many objects.
func scale(bytes, objects int64, rate int) (int64, int64) {
	if rate <= 1 || objects == 0 {
		return bytes, objects
	}
	size := float64(bytes) / float64(objects)
	f := 1 / -math.Expm1(-size/float64(rate))
	return int64(math.Round(float64(bytes) * f)), int64(math.Round(float64(objects) * f))
}

func stackKey(stk []uintptr) string {
	b := make([]byte, 0, 8*len(stk))
	for _, pc := range stk {
		for i := range 8 {
			b = append(b, byte(pc>>(8*i)))
		}
	}
	return string(b)
}
