package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// Listener names of the listeners Affluent runs, as Kafka names its
// security protocols.
const (
	ListenerSASLPlaintext = "SASL_PLAINTEXT"
	ListenerSASLSSL       = "SASL_SSL"
	ListenerMTLS          = "MTLS"
)

// Listener says how the connections of one listener are secured and
// authenticated.
type Listener struct {
	// Name labels logs and metrics (ListenerSASLSSL…); default
	// SASL_PLAINTEXT, or SASL_SSL / MTLS as TLS and ClientCertificates
	// imply.
	Name string
	// TLS, when set, makes the listener speak TLS with this configuration.
	TLS *tls.Config
	// ClientCertificates authenticates connections by their TLS client
	// certificate, through Config.Certificates, instead of SASL. TLS must
	// require a certificate (tls.RequireAnyClientCert: which CAs are
	// trusted is the CertificateAuthenticator's business).
	ClientCertificates bool
	// AdvertisedAddr is the host:port this listener's clients are told to
	// use (Metadata, FindCoordinator); empty means the address each
	// connection reached.
	AdvertisedAddr string
}

// listener is a Listener being served.
type listener struct {
	Listener
	advertised *endpoint // from AdvertisedAddr; nil means each connection's local address
}

func (l *listener) name() string {
	if l == nil {
		return ListenerSASLPlaintext
	}
	return l.Name
}

// newListener checks l against the broker's configuration.
func (b *Broker) newListener(l Listener) (*listener, error) {
	if l.Name == "" {
		switch {
		case l.ClientCertificates:
			l.Name = ListenerMTLS
		case l.TLS != nil:
			l.Name = ListenerSASLSSL
		default:
			l.Name = ListenerSASLPlaintext
		}
	}
	ls := &listener{Listener: l}
	if l.AdvertisedAddr != "" {
		ep, err := parseEndpoint(l.AdvertisedAddr)
		if err != nil {
			return nil, fmt.Errorf("listener %s: advertised addr: %w", l.Name, err)
		}
		ls.advertised = &ep
	}
	if l.ClientCertificates {
		switch {
		case l.TLS == nil:
			return nil, fmt.Errorf("listener %s: client certificates need TLS", l.Name)
		case l.TLS.ClientAuth < tls.RequireAnyClientCert:
			return nil, fmt.Errorf("listener %s: client certificates need TLS requiring them (tls.RequireAnyClientCert)", l.Name)
		case b.cfg.Certificates == nil:
			return nil, fmt.Errorf("listener %s: client certificates need Config.Certificates", l.Name)
		}
	}
	return ls, nil
}

// ServeListener is Serve for a listener with its own security: TLS, and
// authentication by client certificate.
func (b *Broker) ServeListener(ctx context.Context, lis net.Listener, l Listener) error {
	ls, err := b.newListener(l)
	if err != nil {
		_ = lis.Close()
		return err
	}
	return b.serve(ctx, lis, ls)
}

// startTLS runs the TLS handshake of a TLS listener's connection, within
// the time the connection has to authenticate, and on an mTLS listener
// authenticates it by its client certificate. It runs before the read
// loop starts and owns the connection.
func (c *conn) startTLS(ctx context.Context) error {
	tc := tls.Server(c.nc, c.lis.TLS)
	hctx, cancel := context.WithDeadline(ctx, c.authDeadline)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		if c.lis.ClientCertificates {
			c.mechanism = MechanismMTLS
			return c.authFailed(ctx, &authError{reason: reasonHandshake, err: err})
		}
		return fmt.Errorf("tls handshake: %w", err)
	}
	c.nc = tc
	if !c.lis.ClientCertificates {
		return nil
	}
	c.mechanism = MechanismMTLS
	chain := tc.ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return c.authFailed(ctx, &authError{reason: reasonHandshake, err: errors.New("no client certificate")})
	}
	p, err := c.b.cfg.Certificates.AuthenticateCertificate(ctx, chain)
	subject := chain[0].Subject.String()
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return c.authFailed(ctx, &authError{reason: reasonInvalid, identity: subject, err: err})
	case err != nil:
		return c.authFailed(ctx, &authError{reason: reasonUnavailable, identity: subject, err: err})
	}
	// The session ends when the certificate does; there is no SASL to
	// re-authenticate with, so the client reconnects with a new one.
	if err := c.establish(authOutcome{principal: p, expiry: chain[0].NotAfter}); err != nil {
		return c.authFailed(ctx, err)
	}
	return nil
}
