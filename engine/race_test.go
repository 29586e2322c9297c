//go:build race

package engine

// raceEnabled shortens the longest model runs under the race detector,
// which slows the forward pass some twentyfold without making the
// concurrency it checks any different.
const raceEnabled = true
