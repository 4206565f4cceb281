// Package promreg registers Prometheus collectors that several instances
// of a component in one process share: brokers or stores of a test, or a
// store reopened on the process's registry.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Shared registers c with reg, or returns the collector of the same
// description already registered there, so that every instance adds to
// the same series. Another kind of clash (a name reused with other labels
// or help) is a programming error and panics.
func Shared[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
