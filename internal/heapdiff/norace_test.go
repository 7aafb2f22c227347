//go:build !race

package heapdiff_test

const raceEnabled = false
