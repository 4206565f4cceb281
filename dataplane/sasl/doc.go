// Package sasl parses and answers the SASL mechanisms the Kafka listener
// speaks. It knows the wire formats only; checking a credential is the
// broker's business, through its Authenticator.
package sasl
