package broker

import (
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/promreg"
)

// requestMetrics count the broker's Kafka requests by API, the error codes
// of their responses, and how long they took, as Kafka's RequestMetrics
// (RequestsPerSec, ErrorsPerSec, TotalTimeMs) do. Labels are bounded: API
// names and Kafka error names. Per-tenant traffic is the usage meter's.
type requestMetrics struct {
	requests *prometheus.CounterVec   // api
	errors   *prometheus.CounterVec   // api, error_code
	duration *prometheus.HistogramVec // api

	// byKey holds the resolved children of each registered API, so that
	// the hot path does no label lookup.
	byKey map[int16]apiMetrics
}

type apiMetrics struct {
	name     string
	requests prometheus.Counter
	duration prometheus.Observer
}

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_requests_total",
			Help: "Kafka requests answered, by API.",
		}, []string{"api"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_request_errors_total",
			Help: "Kafka responses carrying an error, by API and error code; a response with several codes counts once per distinct code (Kafka's ErrorsPerSec).",
		}, []string{"api", "error_code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "affluent_kafka_request_duration_seconds",
			Help: "Time from reading a Kafka request to its response being ready, by API: queueing behind the connection's earlier requests, throttling and handling (a fetch's long poll included).",
			// 0.25ms to about 33s.
			Buckets: prometheus.ExponentialBuckets(0.00025, 2.2, 16),
		}, []string{"api"}),
		byKey: map[int16]apiMetrics{},
	}
	if reg != nil {
		m.requests = promreg.Shared(reg, m.requests)
		m.errors = promreg.Shared(reg, m.errors)
		m.duration = promreg.Shared(reg, m.duration)
	}
	for key := range apis {
		name := kmsg.NameForKey(key)
		m.byKey[key] = apiMetrics{name: name, requests: m.requests.WithLabelValues(name), duration: m.duration.WithLabelValues(name)}
	}
	return m
}

// observe records one answered request of API key, read at began.
func (m *requestMetrics) observe(key int16, resp kmsg.Response, began time.Time) {
	a, ok := m.byKey[key]
	if !ok {
		return
	}
	a.requests.Inc()
	a.duration.Observe(time.Since(began).Seconds())
	if resp == nil {
		return
	}
	var seen [4]int16
	n := 0
	errorCodes(resp, func(code int16) {
		for _, c := range seen[:n] {
			if c == code {
				return
			}
		}
		if n < len(seen) {
			seen[n] = code
			n++
		}
		name := "UNKNOWN"
		if err := kerr.ErrorForCode(code); err != nil {
			if ke, ok := err.(*kerr.Error); ok {
				name = ke.Message
			}
		}
		m.errors.WithLabelValues(a.name, name).Inc()
	})
}

// errorCodes calls fn with every non-zero ErrorCode field of resp, nested
// in topics and partitions. Which fields of a response type can hold an
// error code is worked out once per type.
func errorCodes(resp kmsg.Response, fn func(int16)) {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	v = v.Elem()
	walkErrorCodes(v, planFor(v.Type()), fn)
}

// errorPlan says where a struct type keeps error codes: its own ErrorCode
// field, and the fields (structs, pointers to structs, slices of them)
// that contain one somewhere.
type errorPlan struct {
	code  int   // index of an int16 ErrorCode field, or -1
	inner []int // fields to descend into
}

var errorPlans sync.Map // reflect.Type (struct) → *errorPlan

func planFor(t reflect.Type) *errorPlan {
	if p, ok := errorPlans.Load(t); ok {
		return p.(*errorPlan)
	}
	p := buildPlan(t, map[reflect.Type]bool{})
	errorPlans.Store(t, p)
	return p
}

func buildPlan(t reflect.Type, visiting map[reflect.Type]bool) *errorPlan {
	p := &errorPlan{code: -1}
	visiting[t] = true
	defer delete(visiting, t)
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
			p.code = i
			continue
		}
		if inner := structOf(f.Type); inner != nil && !visiting[inner] {
			if sub := buildPlan(inner, visiting); sub.code >= 0 || len(sub.inner) > 0 {
				p.inner = append(p.inner, i)
			}
		}
	}
	return p
}

// structOf is the struct type a field holds directly, through a pointer
// or as slice elements; nil for anything else.
func structOf(t reflect.Type) reflect.Type {
	switch t.Kind() {
	case reflect.Struct:
		return t
	case reflect.Pointer, reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Struct {
			return e
		}
	}
	return nil
}

func walkErrorCodes(v reflect.Value, p *errorPlan, fn func(int16)) {
	if p.code >= 0 {
		if c := int16(v.Field(p.code).Int()); c != 0 {
			fn(c)
		}
	}
	for _, i := range p.inner {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Struct:
			walkErrorCodes(f, planFor(f.Type()), fn)
		case reflect.Pointer:
			if !f.IsNil() {
				walkErrorCodes(f.Elem(), planFor(f.Type().Elem()), fn)
			}
		case reflect.Slice:
			if f.Len() == 0 {
				continue
			}
			ep := planFor(f.Type().Elem())
			for j := range f.Len() {
				walkErrorCodes(f.Index(j), ep, fn)
			}
		}
	}
}
