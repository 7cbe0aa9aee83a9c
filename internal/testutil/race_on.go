//go:build race

package testutil

// RaceEnabled is true in a build with the race detector, where allocation
// counts mean nothing (sync.Pool drops items at random, instrumentation
// allocates); .ci/run runs the allocation tests in a normal build too.
const RaceEnabled = true
