//go:build race

package server

// raceEnabled: the race detector drops some of what is put in a
// sync.Pool, so allocation counts do not hold.
const raceEnabled = true
