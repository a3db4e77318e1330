//go:build gatehouse_noevents

package events

// recording is false only in benchmark builds with the gatehouse_noevents
// tag, which measure a write without its event row and outboxes: the
// event log's cost is the difference. Never build the server this way.
const recording = false
