package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/affluent-io/affluent/internal/version"
)

// tracingWanted reports whether the standard OpenTelemetry environment asks
// for traces: an OTLP endpoint is set and OTEL_TRACES_EXPORTER is not
// "none". Without it no exporter runs and spans cost next to nothing.
func tracingWanted(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// setupTracing installs the process's tracer provider: spans of the REST
// gateway's HTTP requests, of every control-plane RPC (joined across the
// gateway → control plane hop), exported by OTLP/gRPC to the collector
// the OTEL_EXPORTER_OTLP_* variables name (sampling by OTEL_TRACES_SAMPLER,
// parent-based always-on by default). The returned function flushes and
// stops the exporter.
func setupTracing(ctx context.Context, roles string, log *slog.Logger) (func(context.Context) error, error) {
	// W3C trace context in and out, whether or not spans are exported, so
	// that a caller's trace id reaches the logs of every hop.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !tracingWanted(os.Getenv) {
		return func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("affluent"),
		semconv.ServiceVersion(version.Version),
		attribute.String("affluent.roles", roles),
	))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	log.Info("exporting traces by OTLP")
	return tp.Shutdown, nil
}

// traced wraps the HTTP handler in server spans; health,
// readiness and metrics scrapes are not traced.
func traced(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
		// The method alone: paths carry resource ids, and span names must
		// stay few; the path is an attribute of the span.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}
