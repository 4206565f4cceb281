package broker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/internal/promreg"
)

// authMetrics count authentications on the Kafka listeners. Labels are
// bounded: listener names, mechanisms and the reason constants of sasl.go;
// never a principal or anything a client chose.
type authMetrics struct {
	successes *prometheus.CounterVec // listener, mechanism
	failures  *prometheus.CounterVec // listener, mechanism, reason
	reauths   *prometheus.CounterVec // listener, mechanism
	expiries  *prometheus.CounterVec // listener
}

// newAuthMetrics registers the counters with reg (nil: counted, not
// exported). Brokers sharing a registry share the counters.
func newAuthMetrics(reg prometheus.Registerer) *authMetrics {
	m := &authMetrics{
		successes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_authentications_total",
			Help: "Successful authentications on the Kafka listeners, re-authentications included.",
		}, []string{"listener", "mechanism"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_authentication_failures_total",
			Help: "Failed authentications on the Kafka listeners, by reason.",
		}, []string{"listener", "mechanism", "reason"}),
		reauths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_reauthentications_total",
			Help: "Successful re-authentications (KIP-368) on the Kafka listeners.",
		}, []string{"listener", "mechanism"}),
		expiries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_sessions_expired_total",
			Help: "Connections closed because their session expired without re-authentication.",
		}, []string{"listener"}),
	}
	if reg != nil {
		m.successes = promreg.Shared(reg, m.successes)
		m.failures = promreg.Shared(reg, m.failures)
		m.reauths = promreg.Shared(reg, m.reauths)
		m.expiries = promreg.Shared(reg, m.expiries)
	}
	return m
}

func (m *authMetrics) success(listener, mechanism string, reauth bool) {
	m.successes.WithLabelValues(listener, mechanism).Inc()
	if reauth {
		m.reauths.WithLabelValues(listener, mechanism).Inc()
	}
}

func (m *authMetrics) failure(listener, mechanism, reason string) {
	if mechanism == "" {
		mechanism = "none"
	}
	m.failures.WithLabelValues(listener, mechanism, reason).Inc()
}

func (m *authMetrics) expired(listener string) { m.expiries.WithLabelValues(listener).Inc() }
