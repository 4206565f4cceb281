package sdk

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// Client is a connection to the Affluent API. It is safe for concurrent use;
// Close it when done.
type Client struct {
	conn     *grpc.ClientConn
	pageSize int32

	environments      pb.EnvironmentServiceClient
	clusters          pb.ClusterServiceClient
	topics            pb.TopicServiceClient
	acls              pb.AclServiceClient
	clientQuotas      pb.ClientQuotaServiceClient
	serviceAccounts   pb.ServiceAccountServiceClient
	users             pb.UserServiceClient
	apiKeys           pb.ApiKeyServiceClient
	roleBindings      pb.RoleBindingServiceClient
	identityProviders pb.IdentityProviderServiceClient
	identityPools     pb.IdentityPoolServiceClient
	certAuthorities   pb.CertificateAuthorityServiceClient
	certPools         pb.CertificatePoolServiceClient
	organizations     pb.OrganizationServiceClient
	operations        pb.OperationServiceClient
	auditEvents       pb.AuditEventServiceClient
}

// Option configures New.
type Option func(*settings) error

type settings struct {
	creds       credentials.PerRPCCredentials
	credsKind   string
	insecure    bool
	tlsConfig   *tls.Config
	retry       RetryPolicy
	attemptTime time.Duration
	pageSize    int32
	userAgent   string
	dialOpts    []grpc.DialOption
	tokenCtx    context.Context
}

func (s *settings) setCreds(kind string, c credentials.PerRPCCredentials) error {
	if s.creds != nil {
		return fmt.Errorf("sdk: both %s and %s given; choose one credential", s.credsKind, kind)
	}
	s.creds, s.credsKind = c, kind
	return nil
}

// WithAPIKey authenticates with a cloud API key and its secret (HTTP Basic
// in the gRPC metadata `authorization`).
func WithAPIKey(key, secret string) Option {
	return func(s *settings) error {
		if key == "" || secret == "" {
			return errors.New("sdk: WithAPIKey needs a key and a secret")
		}
		return s.setCreds("WithAPIKey", basicAuth(key, secret))
	}
}

// WithTokenSource authenticates with bearer tokens from ts (wrapped in
// oauth2.ReuseTokenSource, so a token is reused until it expires).
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(s *settings) error {
		if ts == nil {
			return errors.New("sdk: WithTokenSource needs a token source")
		}
		return s.setCreds("WithTokenSource", &tokenAuth{ts: oauth2.ReuseTokenSource(nil, ts)})
	}
}

// WithClientCredentials authenticates with bearer tokens obtained from
// tokenURL with the OAuth 2.0 client credentials grant; for Affluent's own
// token endpoint the client id and secret are a service account's API key
// and secret.
func WithClientCredentials(tokenURL, clientID, clientSecret string) Option {
	return func(s *settings) error {
		if tokenURL == "" || clientID == "" || clientSecret == "" {
			return errors.New("sdk: WithClientCredentials needs a token URL, a client id and a secret")
		}
		cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL}
		// Tokens are fetched long after New returns: keep ctx's values (an
		// oauth2.HTTPClient, say) but not its cancellation.
		ts := cfg.TokenSource(context.WithoutCancel(s.tokenCtx))
		return s.setCreds("WithClientCredentials", &tokenAuth{ts: oauth2.ReuseTokenSource(nil, ts)})
	}
}

// WithInsecure connects without TLS (for `affluent dev` and tests). The
// credentials then travel in clear text.
func WithInsecure() Option {
	return func(s *settings) error { s.insecure = true; return nil }
}

// WithTLSConfig sets the TLS configuration (default: the system's roots).
func WithTLSConfig(cfg *tls.Config) Option {
	return func(s *settings) error { s.tlsConfig = cfg; return nil }
}

// WithRetryPolicy replaces DefaultRetryPolicy; MaxAttempts 1 disables retries.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(s *settings) error {
		if p.MaxAttempts < 1 {
			return errors.New("sdk: RetryPolicy.MaxAttempts must be at least 1")
		}
		s.retry = p.withDefaults()
		return nil
	}
}

// WithAttemptTimeout bounds each attempt of a call (not the whole call,
// which ctx bounds); a read whose attempt times out is retried.
func WithAttemptTimeout(d time.Duration) Option {
	return func(s *settings) error { s.attemptTime = d; return nil }
}

// WithPageSize sets how many items list iterators fetch per request (the
// server's default when 0; at most 1000).
func WithPageSize(n int) Option {
	return func(s *settings) error {
		if n < 0 || n > 1000 {
			return fmt.Errorf("sdk: page size %d out of range 0..1000", n)
		}
		s.pageSize = int32(n)
		return nil
	}
}

// WithUserAgent prefixes the user agent sent to the server.
func WithUserAgent(ua string) Option {
	return func(s *settings) error { s.userAgent = ua; return nil }
}

// WithDialOptions adds gRPC dial options (a custom dialer, interceptors, …).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) error { s.dialOpts = append(s.dialOpts, opts...); return nil }
}

// New returns a client of the API at endpoint, "host:port" (an http:// or
// https:// prefix is accepted; http:// implies WithInsecure). ctx is used to
// set up the credentials; the connection itself is made lazily, on the
// first call.
func New(ctx context.Context, endpoint string, opts ...Option) (*Client, error) {
	s := &settings{retry: DefaultRetryPolicy, tokenCtx: ctx, userAgent: "affluent-go-sdk"}
	switch {
	case strings.HasPrefix(endpoint, "http://"):
		endpoint, s.insecure = strings.TrimPrefix(endpoint, "http://"), true
	case strings.HasPrefix(endpoint, "https://"):
		endpoint = strings.TrimPrefix(endpoint, "https://")
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	if endpoint == "" {
		return nil, errors.New("sdk: empty endpoint")
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	transport := credentials.NewTLS(s.tlsConfig)
	if s.insecure {
		transport = insecure.NewCredentials()
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithUserAgent(s.userAgent),
		grpc.WithChainUnaryInterceptor(retryInterceptor(s.retry, s.attemptTime)),
	}
	if s.creds != nil {
		dial = append(dial, grpc.WithPerRPCCredentials(s.creds))
	}
	conn, err := grpc.NewClient(endpoint, append(dial, s.dialOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("sdk: connect %s: %w", endpoint, err)
	}
	return &Client{
		conn:              conn,
		pageSize:          s.pageSize,
		environments:      pb.NewEnvironmentServiceClient(conn),
		clusters:          pb.NewClusterServiceClient(conn),
		topics:            pb.NewTopicServiceClient(conn),
		acls:              pb.NewAclServiceClient(conn),
		clientQuotas:      pb.NewClientQuotaServiceClient(conn),
		serviceAccounts:   pb.NewServiceAccountServiceClient(conn),
		users:             pb.NewUserServiceClient(conn),
		apiKeys:           pb.NewApiKeyServiceClient(conn),
		roleBindings:      pb.NewRoleBindingServiceClient(conn),
		identityProviders: pb.NewIdentityProviderServiceClient(conn),
		identityPools:     pb.NewIdentityPoolServiceClient(conn),
		certAuthorities:   pb.NewCertificateAuthorityServiceClient(conn),
		certPools:         pb.NewCertificatePoolServiceClient(conn),
		organizations:     pb.NewOrganizationServiceClient(conn),
		operations:        pb.NewOperationServiceClient(conn),
		auditEvents:       pb.NewAuditEventServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying connection, with the client's credentials,
// retries and error mapping, for calling the generated gRPC clients of
// package affluentv1 directly.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }
