package app

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/affluent-io/affluent/internal/version"
)

// Health tracks readiness per component. Liveness (/healthz) is true while
// the process serves HTTP at all; readiness (/readyz) needs every component
// registered here to report ready.
type Health struct {
	mu sync.Mutex // guards notReady
	// notReady maps a component to why it is not ready; absent means ready.
	notReady map[string]string
}

// NewHealth returns an empty readiness tracker.
func NewHealth() *Health { return &Health{notReady: map[string]string{}} }

// SetReady marks component ready (err nil) or not ready with the reason.
func (h *Health) SetReady(component string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.notReady, component)
		return
	}
	h.notReady[component] = err.Error()
}

// NotReady lists the components that are not ready, with their reasons.
func (h *Health) NotReady() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]string, len(h.notReady))
	for k, v := range h.notReady {
		out[k] = v
	}
	return out
}

func (p *Process) mountOps() {
	p.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	p.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		notReady := p.health.NotReady()
		if len(notReady) == 0 {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "components": notReady})
	})
	p.mux.Handle("GET /metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{Registry: p.registry}))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func buildInfoCollector() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "affluent_build_info",
		Help: "Build information of the running Affluent binary; always 1.",
	}, []string{"version", "commit"})
	g.WithLabelValues(version.Version, version.Commit).Set(1)
	return g
}
