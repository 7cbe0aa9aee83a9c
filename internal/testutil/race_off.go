//go:build !race

package testutil

// RaceEnabled is true in a build with the race detector.
const RaceEnabled = false
