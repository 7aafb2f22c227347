//go:build race

package heapdiff_test

// raceEnabled: under -race, sync.Pool.Put drops a quarter of what it is
// given at random, on purpose.
const raceEnabled = true
