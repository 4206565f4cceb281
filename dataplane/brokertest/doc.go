// Package brokertest holds the broker's integration tests: a real broker
// (internal/testutil.StartBroker) on a loopback port with real tiered
// storage in a temporary directory, driven by real clients (franz-go, kcat).
package brokertest
