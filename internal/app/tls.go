package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/affluent-io/affluent/internal/config"
)

// The files of the generated TLS material, in DATA_DIR/tls.
const (
	tlsDir        = "tls"
	caCertFile    = "ca.pem"
	caKeyFile     = "ca-key.pem"
	serverCrtFile = "server.pem"
	serverKeyFile = "server-key.pem"
)

// Validity of generated certificates, and how long before expiry they are
// made again.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 397 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// kafkaTLS is the server side of the Kafka TLS listeners.
type kafkaTLS struct {
	cert tls.Certificate
	// caFile is the CA that signed a generated certificate, for clients
	// (ca_cert_file); empty when the certificate was configured.
	caFile string
}

// loadKafkaTLS reads the configured certificate, or makes sure a CA and a
// server certificate exist in DATA_DIR/tls: made once, kept across
// restarts, the certificate made again when it nears expiry or misses a
// host the listeners need.
func loadKafkaTLS(cfg config.Config) (kafkaTLS, error) {
	if cfg.Kafka.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Kafka.TLSCertFile, cfg.Kafka.TLSKeyFile)
		if err != nil {
			return kafkaTLS{}, fmt.Errorf("kafka tls certificate: %w", err)
		}
		return kafkaTLS{cert: cert}, nil
	}
	dir := filepath.Join(cfg.Storage.DataDir, tlsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return kafkaTLS{}, fmt.Errorf("tls dir: %w", err)
	}
	ca, caKey, err := loadOrMakeCA(dir)
	if err != nil {
		return kafkaTLS{}, err
	}
	cert, err := loadOrMakeServerCert(dir, ca, caKey, tlsHosts(cfg))
	if err != nil {
		return kafkaTLS{}, err
	}
	caFile, err := filepath.Abs(filepath.Join(dir, caCertFile))
	if err != nil {
		return kafkaTLS{}, err
	}
	return kafkaTLS{cert: cert, caFile: caFile}, nil
}

// tlsHosts are the names the server certificate must hold: loopback, and
// the hosts of the Kafka addresses (listening and advertised) that are not
// wildcards.
func tlsHosts(cfg config.Config) []string {
	hosts := []string{"127.0.0.1", "localhost", "::1"}
	for _, addr := range []string{cfg.Kafka.Addr, cfg.Kafka.AdvertisedAddr, cfg.Kafka.TLSAddr, cfg.Kafka.MTLSAddr} {
		h, _, err := net.SplitHostPort(addr)
		if err != nil || h == "" || h == "0.0.0.0" || h == "::" || slices.Contains(hosts, h) {
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts
}

func loadOrMakeCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	cert, key, err := readPair(certPath, keyPath)
	if err == nil && time.Until(cert.NotAfter) > renewBefore && cert.IsCA {
		return cert, key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("dev CA in %s (delete it to make a new one): %w", dir, err)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Affluent dev CA", Organization: []string{"Affluent"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	return cert, key, err
}

func loadOrMakeServerCert(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, serverCrtFile), filepath.Join(dir, serverKeyFile)
	if cert, key, err := readPair(certPath, keyPath); err == nil && time.Until(cert.NotAfter) > renewBefore &&
		cert.CheckSignatureFrom(ca) == nil && coversHosts(cert, hosts) {
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "affluent broker", Organization: []string{"Affluent"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func coversHosts(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n.Add(n, big.NewInt(1))
}

// readPair reads a PEM certificate and its PEM (PKCS#8) ECDSA key.
func readPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not an ECDSA key", keyPath)
	}
	return cert, key, nil
}

// writePair writes a certificate (readable by all) and its key (by its
// owner only), each whole or not at all.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// serverTLS is the TLS configuration of the SASL_SSL listener, and with
// clientCerts of the mTLS listener: a client certificate is required, and
// which CAs are trusted is the control plane's certificate authorities'
// business (the broker verifies the chain against them), not a fixed pool.
func (k kafkaTLS) serverTLS(clientCerts bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{k.cert}, MinVersion: tls.VersionTLS12}
	if clientCerts {
		c.ClientAuth = tls.RequireAnyClientCert
	}
	return c
}
