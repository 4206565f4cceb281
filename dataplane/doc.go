// Package dataplane holds the Kafka-protocol side of Affluent: the broker
// (dataplane/broker), its storage on object storage and a metadata DB
// (dataplane/storage) and the group coordinator (dataplane/groups).
package dataplane
