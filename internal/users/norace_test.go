//go:build !race

package users

const raceEnabled = false
