//go:build race

package saml

// raceEnabled: the race detector drops a quarter of what is put in a
// sync.Pool, so allocation counts do not hold.
const raceEnabled = true
