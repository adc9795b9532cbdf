//go:build race

package ptrace

const raceEnabled = true
