//go:build !gatehouse_noevents

package events

// recording is true in every build of Gatehouse; only benchmarks built
// with the gatehouse_noevents tag (measuring what the event log costs a
// write) turn it off.
const recording = true
