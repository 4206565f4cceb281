// Package groups is the group coordinator: classic consumer groups
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, static membership per
// KIP-345), KIP-848 consumer groups (ConsumerGroupHeartbeat and
// ConsumerGroupDescribe, with server-side assignment and incremental
// reconciliation, and online migration of a group between the two
// protocols), and the committed offsets of both. Durable state goes
// through Store, so a restarted broker, or another one taking a group over,
// resumes every group.
package groups
