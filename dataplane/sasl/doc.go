// Package sasl parses and answers the SASL mechanisms the Kafka listener
// speaks: PLAIN (RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802,
// RFC 7677) and OAUTHBEARER (RFC 7628). It knows the wire formats and the
// SCRAM arithmetic only; finding and checking a credential is the broker's
// business, through its Authenticator and ScramStore.
package sasl
