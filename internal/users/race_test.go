//go:build race

package users

// raceEnabled: the race detector makes hashing many times slower and its
// times meaningless for the timing tests.
const raceEnabled = true
