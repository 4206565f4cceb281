package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/proto"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Options configure the gateway.
type Options struct {
	// Conn reaches the control plane's gRPC API: controlplane.Conn() in
	// process, or a connection to a remote control plane.
	Conn grpc.ClientConnInterface
	// Logger receives one access log line per request (never credentials
	// or bodies).
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (default 1 MiB): larger ones get
	// 413 REQUEST_TOO_LARGE.
	MaxBodyBytes int64
	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the API, for a web portal; "*" allows any. Empty: no CORS.
	CORSOrigins []string
	// Tokens, when set, serves POST /oauth2/token, GET /.well-known/jwks.json
	// and GET /.well-known/openid-configuration.
	Tokens TokenIssuer
	// TokenRequestsPerSecond bounds token requests per caller address
	// (default 20, burst twice that); negative disables the limit.
	TokenRequestsPerSecond float64
}

// Gateway is the REST API: grpc-gateway over the control plane's gRPC
// services, /openapi.json, request ids, access logs, body limits and
// JSON errors from the catalogue. Authentication, rate limits and
// authorization are the control plane's, so REST and gRPC behave alike.
type Gateway struct {
	opts         Options
	log          *slog.Logger
	api          *runtime.ServeMux
	openapi      []byte
	handler      http.Handler
	tokenLimiter *access.Limiter // nil: unlimited
}

// New returns the gateway; ctx bounds nothing but the registration.
func New(ctx context.Context, opts Options) (*Gateway, error) {
	if opts.Conn == nil {
		return nil, errors.New("gateway: Options.Conn is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	g := &Gateway{opts: opts, log: opts.Logger}
	if opts.TokenRequestsPerSecond == 0 {
		opts.TokenRequestsPerSecond = tokenRequestsPerSecond
	}
	g.tokenLimiter = newTokenLimiter(opts.TokenRequestsPerSecond, max(int(2*opts.TokenRequestsPerSecond), tokenRequestBurst))
	g.api = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithOutgoingTrailerMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithErrorHandler(g.rpcError),
		runtime.WithRoutingErrorHandler(g.routingError),
		runtime.WithDisableHTTPMethodOverride(),
	)
	if err := registerAll(ctx, g.api, opts.Conn); err != nil {
		return nil, err
	}
	doc, err := openAPIDocument(proto.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("gateway: openapi document: %w", err)
	}
	g.openapi = doc

	mux := http.NewServeMux()
	mux.Handle("/v1/", g.limitBody(g.api))
	mux.HandleFunc("GET /openapi.json", g.serveOpenAPI)
	g.mountOAuth(mux)
	g.handler = g.withRequestID(g.withAccessLog(g.withCORS(mux)))
	return g, nil
}

// registerAll binds every service's REST routes to the client connection.
func registerAll(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
	regs := []error{
		pb.RegisterOperationServiceHandlerClient(ctx, mux, pb.NewOperationServiceClient(conn)),
		pb.RegisterOrganizationServiceHandlerClient(ctx, mux, pb.NewOrganizationServiceClient(conn)),
		pb.RegisterEnvironmentServiceHandlerClient(ctx, mux, pb.NewEnvironmentServiceClient(conn)),
		pb.RegisterClusterServiceHandlerClient(ctx, mux, pb.NewClusterServiceClient(conn)),
		pb.RegisterTopicServiceHandlerClient(ctx, mux, pb.NewTopicServiceClient(conn)),
		pb.RegisterAclServiceHandlerClient(ctx, mux, pb.NewAclServiceClient(conn)),
		pb.RegisterClientQuotaServiceHandlerClient(ctx, mux, pb.NewClientQuotaServiceClient(conn)),
		pb.RegisterServiceAccountServiceHandlerClient(ctx, mux, pb.NewServiceAccountServiceClient(conn)),
		pb.RegisterUserServiceHandlerClient(ctx, mux, pb.NewUserServiceClient(conn)),
		pb.RegisterApiKeyServiceHandlerClient(ctx, mux, pb.NewApiKeyServiceClient(conn)),
		pb.RegisterRoleBindingServiceHandlerClient(ctx, mux, pb.NewRoleBindingServiceClient(conn)),
		pb.RegisterIdentityProviderServiceHandlerClient(ctx, mux, pb.NewIdentityProviderServiceClient(conn)),
		pb.RegisterIdentityPoolServiceHandlerClient(ctx, mux, pb.NewIdentityPoolServiceClient(conn)),
		pb.RegisterCertificateAuthorityServiceHandlerClient(ctx, mux, pb.NewCertificateAuthorityServiceClient(conn)),
		pb.RegisterCertificatePoolServiceHandlerClient(ctx, mux, pb.NewCertificatePoolServiceClient(conn)),
		pb.RegisterScramCredentialServiceHandlerClient(ctx, mux, pb.NewScramCredentialServiceClient(conn)),
		pb.RegisterAuditEventServiceHandlerClient(ctx, mux, pb.NewAuditEventServiceClient(conn)),
	}
	if err := errors.Join(regs...); err != nil {
		return fmt.Errorf("gateway: register routes: %w", err)
	}
	return nil
}

// ServeHTTP serves /v1/…, /openapi.json and, with Tokens, the OAuth
// endpoints.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Mount registers the gateway's paths on mux: /v1/, GET /openapi.json and,
// with Tokens, /oauth2/token and /.well-known/….
func (g *Gateway) Mount(mux *http.ServeMux) {
	mux.Handle("/v1/", g)
	mux.Handle("GET /openapi.json", g)
	if g.opts.Tokens != nil {
		mux.Handle(tokenPath, g)
		mux.Handle("/.well-known/", g)
	}
}

// incomingHeader forwards only what the control plane reads: credentials
// and the request id. Other headers never reach it.
func incomingHeader(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "authorization":
		return access.MDAuthorization, true
	case "x-request-id":
		return access.MDRequestID, true
	}
	return "", false
}

func (g *Gateway) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(g.openapi)
}

// errorBody is every error the REST API answers.
type errorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

func writeError(w http.ResponseWriter, e *apierr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(apierr.Lookup(e.Code).HTTP)
	_ = json.NewEncoder(w).Encode(errorBody{Code: string(e.Code), Message: e.Message, RequestID: w.Header().Get("X-Request-Id")})
}

func (g *Gateway) rpcError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st := bodyState(r.Context()); st != nil && st.exceeded.Load() {
		writeError(w, apierr.New(apierr.RequestTooLarge, "request body larger than %d bytes", g.opts.MaxBodyBytes))
		return
	}
	e := apierr.FromStatus(status.Convert(err))
	if e.Code == apierr.Internal {
		g.log.Error("gateway: rpc failed", "path", r.URL.Path, "request_id", w.Header().Get("X-Request-Id"), "err", err)
	}
	writeError(w, e)
}

func (g *Gateway) routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	switch code {
	case http.StatusMethodNotAllowed:
		writeError(w, apierr.New(apierr.MethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
	case http.StatusNotFound:
		writeError(w, apierr.New(apierr.RouteNotFound, "no API method at %s %s", r.Method, r.URL.Path))
	default:
		writeError(w, apierr.New(apierr.MalformedRequest, "%s", http.StatusText(code)))
	}
}

// bodyLimit remembers, per request, whether the body went over the limit.
type bodyLimit struct{ exceeded atomic.Bool }

type bodyLimitKey struct{}

func bodyState(ctx context.Context) *bodyLimit {
	b, _ := ctx.Value(bodyLimitKey{}).(*bodyLimit)
	return b
}

// limitBody refuses declared-too-large bodies at once and cuts others at
// the limit, so grpc-gateway's decoding error becomes REQUEST_TOO_LARGE.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.opts.MaxBodyBytes {
			writeError(w, apierr.New(apierr.RequestTooLarge, "request body larger than %d bytes", g.opts.MaxBodyBytes))
			return
		}
		state := &bodyLimit{}
		r = r.WithContext(context.WithValue(r.Context(), bodyLimitKey{}, state))
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, g.opts.MaxBodyBytes), state: state}
		next.ServeHTTP(w, r)
	})
}

type limitedBody struct {
	io.ReadCloser
	state *bodyLimit
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.state.exceeded.Store(true)
	}
	return n, err
}

// withRequestID keeps a well-formed X-Request-Id or makes one, passes it
// to the control plane and returns it.
func (g *Gateway) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !access.ValidRequestID(id) {
			id = access.NewRequestID()
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r)
	})
}

// withCORS answers browsers' preflight requests and marks responses for
// the allowed origins.
func (g *Gateway) withCORS(next http.Handler) http.Handler {
	if len(g.opts.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !slices.ContainsFunc(g.opts.CORSOrigins, func(o string) bool { return o == "*" || o == origin }) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "X-Request-Id")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder captures what the access log reports.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// withAccessLog logs each request: method, path (without the query),
// status, size, duration, request id, remote address and the API key id
// presented (never its secret, the Authorization header or bodies).
func (g *Gateway) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		g.log.Info("http request",
			"method", r.Method,
			"path", r.URL.Path,
			"status", rec.status,
			"bytes", rec.bytes,
			"duration_ms", time.Since(start).Milliseconds(),
			"request_id", w.Header().Get("X-Request-Id"),
			"remote", r.RemoteAddr,
			"credential", credentialName(r.Header.Get("Authorization")),
		)
	})
}

// credentialName names the credential of an Authorization header for
// logs: the API key id of Basic credentials, "bearer" for tokens.
func credentialName(h string) string {
	scheme, value, _ := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case h == "":
		return ""
	case strings.EqualFold(scheme, "bearer"):
		return "bearer"
	case strings.EqualFold(scheme, "basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return "malformed"
		}
		key, _, _ := strings.Cut(string(raw), ":")
		if credential.IsKey(key) {
			return key
		}
		return "malformed"
	}
	return "unsupported"
}
