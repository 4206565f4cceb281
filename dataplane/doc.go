// Package dataplane holds the Kafka-protocol side of Affluent: the broker
// (dataplane/broker), its storage on object storage and a metadata DB
// (dataplane/storage), which brokers of a cell are alive and which of them
// leads or coordinates what (dataplane/membership), the group coordinator
// (dataplane/groups), the
// Kafka ACL model the broker authorizes with (dataplane/acl), the SASL wire
// formats (dataplane/sasl) and the SCRAM credentials the brokers hold
// (dataplane/credstore).
package dataplane
