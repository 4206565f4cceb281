package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SCRAM mechanism names (RFC 5802, RFC 7677).
const (
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// ScramMechanism is a SCRAM hash function, numbered as Kafka's Admin API
// numbers them (DescribeUserScramCredentials, AlterUserScramCredentials).
type ScramMechanism int8

// The SCRAM mechanisms Kafka knows.
const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// Iteration bounds of a SCRAM credential, as Kafka enforces them: RFC 7677
// asks for at least 4096, and a bound above keeps one authentication cheap
// enough that it cannot be used to exhaust the broker.
const (
	MinScramIterations = 4096
	MaxScramIterations = 16384
)

// ScramMechanismByName returns the mechanism of a SASL mechanism name.
func ScramMechanismByName(name string) (ScramMechanism, bool) {
	switch name {
	case MechanismScramSHA256:
		return ScramSHA256, true
	case MechanismScramSHA512:
		return ScramSHA512, true
	}
	return 0, false
}

// Valid reports whether m is a known mechanism.
func (m ScramMechanism) Valid() bool { return m == ScramSHA256 || m == ScramSHA512 }

// String is the SASL mechanism name.
func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return MechanismScramSHA256
	case ScramSHA512:
		return MechanismScramSHA512
	}
	return "SCRAM-UNKNOWN(" + strconv.Itoa(int(m)) + ")"
}

func (m ScramMechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// Size is the length of the mechanism's hash, and of its keys.
func (m ScramMechanism) Size() int {
	if m == ScramSHA512 {
		return sha512.Size
	}
	return sha256.Size
}

// ScramCredential is what a server keeps of a SCRAM password: never the
// password, nor the salted password, only the keys derived from it.
type ScramCredential struct {
	Mechanism  ScramMechanism
	Salt       []byte
	Iterations int
	// StoredKey is H(ClientKey); ServerKey is HMAC(SaltedPassword, "Server Key").
	StoredKey []byte
	ServerKey []byte
}

// SaltPassword is Hi(password, salt, iterations) of RFC 5802: PBKDF2 with
// the mechanism's HMAC. Kafka clients send it in AlterUserScramCredentials
// (KIP-554) so that the password itself never travels.
func (m ScramMechanism) SaltPassword(password string, salt []byte, iterations int) ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("unknown SCRAM mechanism %d", m)
	}
	return pbkdf2.Key(m.hash(), password, salt, iterations, m.Size())
}

// CredentialFromSalted derives the stored keys from a salted password.
func (m ScramMechanism) CredentialFromSalted(saltedPassword, salt []byte, iterations int) (ScramCredential, error) {
	switch {
	case !m.Valid():
		return ScramCredential{}, fmt.Errorf("unknown SCRAM mechanism %d", m)
	case iterations < MinScramIterations || iterations > MaxScramIterations:
		return ScramCredential{}, fmt.Errorf("iterations %d: want %d..%d", iterations, MinScramIterations, MaxScramIterations)
	case len(salt) == 0:
		return ScramCredential{}, errors.New("empty salt")
	case len(saltedPassword) != m.Size():
		return ScramCredential{}, fmt.Errorf("salted password of %d bytes: %s needs %d", len(saltedPassword), m, m.Size())
	}
	clientKey := m.hmac(saltedPassword, []byte("Client Key"))
	h := m.hash()()
	h.Write(clientKey)
	return ScramCredential{
		Mechanism:  m,
		Salt:       bytes.Clone(salt),
		Iterations: iterations,
		StoredKey:  h.Sum(nil),
		ServerKey:  m.hmac(saltedPassword, []byte("Server Key")),
	}, nil
}

// NewCredential makes a credential for password with a fresh random salt.
func (m ScramMechanism) NewCredential(password string, iterations int) (ScramCredential, error) {
	salt := make([]byte, 24)
	_, _ = rand.Read(salt)
	return m.NewCredentialWithSalt(password, salt, iterations)
}

// NewCredentialWithSalt makes a credential for password and salt.
func (m ScramMechanism) NewCredentialWithSalt(password string, salt []byte, iterations int) (ScramCredential, error) {
	salted, err := m.SaltPassword(password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return m.CredentialFromSalted(salted, salt, iterations)
}

// DecoyScramCredential is a credential no password matches, with a salt
// that depends only on secret and identity: a server answers an unknown
// user with it, so that the exchange looks the same whether the user
// exists or not and the same user always gets the same salt.
func DecoyScramCredential(m ScramMechanism, secret []byte, identity string) ScramCredential {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(m.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(identity))
	salt := mac.Sum(nil)[:24]
	stored := make([]byte, m.Size())
	server := make([]byte, m.Size())
	_, _ = rand.Read(stored)
	_, _ = rand.Read(server)
	return ScramCredential{Mechanism: m, Salt: salt, Iterations: MinScramIterations, StoredKey: stored, ServerKey: server}
}

func (m ScramMechanism) hmac(key, msg []byte) []byte {
	mac := hmac.New(m.hash(), key)
	mac.Write(msg)
	return mac.Sum(nil)
}

// ErrMalformedScram reports a SCRAM message that does not follow RFC 5802.
// Its text names the rule that failed, never the input.
var ErrMalformedScram = errors.New("malformed SCRAM message")

// ErrScramProof reports a client proof that does not match the credential:
// a wrong password, or an unknown user.
var ErrScramProof = errors.New("invalid SCRAM client proof")

func malformedScram(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedScram, fmt.Sprintf(format, args...))
}

// ScramClientFirst is a parsed client-first-message.
type ScramClientFirst struct {
	// GS2Header is "n,," or "n,a=<authzid>,": channel binding is not
	// supported, so the flag is always n.
	GS2Header string
	// AuthzID, unescaped, is the identity to act as; only empty or equal
	// to Username is accepted.
	AuthzID string
	// Username is unescaped (=2C and =3D decoded).
	Username string
	Nonce    string
	// Extensions are the attribute=value pairs after the nonce, such as
	// Kafka's tokenauth=true or our logicalCluster=lkc-….
	Extensions map[string]string
	// Bare is the client-first-message-bare, part of the AuthMessage.
	Bare string
}

// maxScramMessage bounds a SCRAM message; real ones are under 200 bytes.
const maxScramMessage = 4096

// ParseScramClientFirst parses a client-first-message (RFC 5802 §7):
//
//	gs2-header = gs2-cbind-flag "," [ authzid ] ","
//	client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
//
// Only the channel binding flag "n" is accepted: we offer no -PLUS
// mechanism, and a client answering "y" or "p=" is not talking to us as we
// are. A mandatory extension (m=) is refused, as the RFC requires.
func ParseScramClientFirst(msg []byte) (ScramClientFirst, error) {
	var cf ScramClientFirst
	if len(msg) > maxScramMessage {
		return cf, malformedScram("client-first-message of %d bytes", len(msg))
	}
	if !utf8.Valid(msg) {
		return cf, malformedScram("not UTF-8")
	}
	s := string(msg)
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return cf, malformedScram("no gs2 header")
	}
	switch {
	case flag == "n":
	case flag == "y", strings.HasPrefix(flag, "p="):
		return cf, malformedScram("channel binding flag %q not supported (want n)", flag[:1])
	default:
		return cf, malformedScram("bad channel binding flag")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, malformedScram("gs2 header not terminated")
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, malformedScram("bad authzid")
		}
		name, err := decodeSaslName(v)
		if err != nil {
			return cf, err
		}
		cf.AuthzID = name
	}
	cf.GS2Header = s[:len(s)-len(bare)]
	cf.Bare = bare

	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, malformedScram("mandatory extension not supported")
	}
	if len(attrs) < 2 {
		return cf, malformedScram("username and nonce required")
	}
	user, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return cf, malformedScram("username expected first")
	}
	name, err := decodeSaslName(user)
	if err != nil {
		return cf, err
	}
	if name == "" {
		return cf, malformedScram("empty username")
	}
	cf.Username = name
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return cf, malformedScram("nonce expected after username")
	}
	if err := checkNonce(nonce); err != nil {
		return cf, err
	}
	cf.Nonce = nonce
	if cf.Extensions, err = parseScramExtensions(attrs[2:]); err != nil {
		return cf, err
	}
	if cf.AuthzID != "" && cf.AuthzID != cf.Username {
		return cf, malformedScram("authorization id differs from username")
	}
	return cf, nil
}

// ScramClientFinal is a parsed client-final-message.
type ScramClientFinal struct {
	// ChannelBinding is the decoded c= attribute: for flag n, the gs2
	// header of the client-first-message.
	ChannelBinding string
	Nonce          string
	Proof          []byte
	// WithoutProof is the client-final-message-without-proof, part of the
	// AuthMessage.
	WithoutProof string
}

// ParseScramClientFinal parses a client-final-message (RFC 5802 §7):
//
//	channel-binding "," nonce ["," extensions] "," proof
func ParseScramClientFinal(msg []byte) (ScramClientFinal, error) {
	var cf ScramClientFinal
	if len(msg) > maxScramMessage {
		return cf, malformedScram("client-final-message of %d bytes", len(msg))
	}
	if !utf8.Valid(msg) {
		return cf, malformedScram("not UTF-8")
	}
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return cf, malformedScram("proof expected last")
	}
	cf.WithoutProof = s[:i]
	proof, err := base64.StdEncoding.Strict().DecodeString(s[i+3:])
	if err != nil || len(proof) == 0 {
		return cf, malformedScram("proof is not base64")
	}
	cf.Proof = proof
	attrs := strings.Split(cf.WithoutProof, ",")
	if len(attrs) < 2 {
		return cf, malformedScram("channel binding and nonce required")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return cf, malformedScram("channel binding expected first")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(cb)
	if err != nil {
		return cf, malformedScram("channel binding is not base64")
	}
	cf.ChannelBinding = string(raw)
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return cf, malformedScram("nonce expected after channel binding")
	}
	if err := checkNonce(nonce); err != nil {
		return cf, err
	}
	cf.Nonce = nonce
	if _, err := parseScramExtensions(attrs[2:]); err != nil {
		return cf, err
	}
	return cf, nil
}

// checkNonce enforces c-nonce = 1*printable, printable = %x21-2B / %x2D-7E.
func checkNonce(n string) error {
	if n == "" {
		return malformedScram("empty nonce")
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == ',' {
			return malformedScram("nonce has a non-printable character")
		}
	}
	return nil
}

// parseScramExtensions parses attr=value pairs; attr is letters (Kafka
// allows names longer than RFC 5802's one letter, as in tokenauth).
func parseScramExtensions(attrs []string) (map[string]string, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	if len(attrs) > 16 {
		return nil, malformedScram("too many extensions")
	}
	out := make(map[string]string, len(attrs))
	for _, a := range attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" || !isAlpha(k) {
			return nil, malformedScram("bad extension")
		}
		if _, dup := out[k]; dup {
			return nil, malformedScram("extension %q repeated", k)
		}
		out[k] = v
	}
	return out, nil
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// decodeSaslName undoes RFC 5802's escaping: "=2C" is ",", "=3D" is "=",
// and any other "=" is an error.
func decodeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformedScram("bad escape in name")
		}
		i += 2
	}
	return b.String(), nil
}

// EncodeSaslName escapes a name for a SCRAM message.
func EncodeSaslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// ScramServer is the server side of one SCRAM exchange:
//
//	client-first  → ClientFirst (parse; the caller then finds the credential)
//	              ← ServerFirst(credential)
//	client-final  → ClientFinal (verify the proof)
//	              ← server-final (v=ServerSignature)
//
// It is used by one goroutine.
type ScramServer struct {
	mech        ScramMechanism
	first       ScramClientFirst
	cred        ScramCredential
	nonce       string // client nonce + server nonce
	serverFirst string
	step        int
	// serverNonce, when set (tests), replaces the random server nonce.
	serverNonce string
}

// NewScramServer starts an exchange of mechanism m.
func NewScramServer(m ScramMechanism) *ScramServer { return &ScramServer{mech: m} }

// ClientFirst parses the client-first-message.
func (s *ScramServer) ClientFirst(msg []byte) (ScramClientFirst, error) {
	if s.step != 0 {
		return ScramClientFirst{}, errors.New("SCRAM: client-first-message out of order")
	}
	cf, err := ParseScramClientFirst(msg)
	if err != nil {
		return cf, err
	}
	s.first, s.step = cf, 1
	return cf, nil
}

// ServerFirst answers the client-first-message with the salt and
// iterations of cred (a DecoyScramCredential for unknown users).
func (s *ScramServer) ServerFirst(cred ScramCredential) ([]byte, error) {
	if s.step != 1 {
		return nil, errors.New("SCRAM: server-first-message out of order")
	}
	if cred.Mechanism != s.mech || len(cred.StoredKey) != s.mech.Size() || len(cred.ServerKey) != s.mech.Size() {
		return nil, fmt.Errorf("SCRAM: credential is not a %s credential", s.mech)
	}
	if s.serverNonce == "" {
		var r [24]byte
		_, _ = rand.Read(r[:])
		s.serverNonce = base64.RawURLEncoding.EncodeToString(r[:])
	}
	s.cred = cred
	s.nonce = s.first.Nonce + s.serverNonce
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(cred.Iterations)
	s.step = 2
	return []byte(s.serverFirst), nil
}

// ClientFinal checks the client-final-message: its channel binding must be
// the gs2 header of the client-first-message, its nonce ours (or, as
// librdkafka sends it, the client's nonce followed by ours), and its proof
// that of the credential's password, compared in constant time. On success
// it returns the server-final-message with the server's signature.
func (s *ScramServer) ClientFinal(msg []byte) ([]byte, error) {
	if s.step != 2 {
		return nil, errors.New("SCRAM: client-final-message out of order")
	}
	s.step = 3
	cf, err := ParseScramClientFinal(msg)
	if err != nil {
		return nil, err
	}
	switch {
	case cf.ChannelBinding != s.first.GS2Header:
		return nil, malformedScram("channel binding differs from the gs2 header")
	case cf.Nonce != s.nonce && cf.Nonce != s.first.Nonce+s.nonce:
		// librdkafka sends its own nonce again before the server's,
		// which Kafka tolerates (it checks the nonce ends with the
		// server's); so do we, in that exact form only.
		return nil, malformedScram("nonce differs from the server's")
	case len(cf.Proof) != s.mech.Size():
		return nil, ErrScramProof
	}
	authMessage := []byte(s.first.Bare + "," + s.serverFirst + "," + cf.WithoutProof)
	clientSignature := s.mech.hmac(s.cred.StoredKey, authMessage)
	clientKey := make([]byte, len(cf.Proof))
	subtle.XORBytes(clientKey, cf.Proof, clientSignature)
	h := s.mech.hash()()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 {
		return nil, ErrScramProof
	}
	serverSignature := s.mech.hmac(s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil
}
