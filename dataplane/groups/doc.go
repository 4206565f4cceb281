// Package groups is the group coordinator of the classic Kafka consumer
// group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, static
// membership per KIP-345) and the keeper of committed offsets. Durable state
// goes through Store, so a restarted broker resumes every group.
package groups
