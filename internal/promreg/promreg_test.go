package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSharedReturnsTheRegisteredCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "things_total", Help: "Things."}
	first := Shared(reg, prometheus.NewCounterVec(opts, []string{"kind"}))
	second := Shared(reg, prometheus.NewCounterVec(opts, []string{"kind"}))
	if first != second {
		t.Fatal("a second registration got its own collector")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a clashing description did not panic")
		}
	}()
	Shared(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "things_total", Help: "Other things."}, []string{"other"}))
}
