package oauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// jwk is a JSON Web Key (RFC 7517) of the kinds tokens are signed with:
// EC (P-256, P-384, P-521) and RSA public keys.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

var b64url = base64.RawURLEncoding

// publicJWK describes an ECDSA public key for a JWKS.
func publicJWK(kid, alg string, pub *ecdsa.PublicKey) (jwk, error) {
	point, err := pub.Bytes()
	if err != nil {
		return jwk{}, err
	}
	n := (len(point) - 1) / 2
	return jwk{Kty: "EC", Use: "sig", Alg: alg, Kid: kid, Crv: pub.Curve.Params().Name,
		X: b64url.EncodeToString(point[1 : 1+n]), Y: b64url.EncodeToString(point[1+n:])}, nil
}

// verificationKey is a public key of a JWKS and the algorithm it is
// restricted to ("" when the JWK does not say).
type verificationKey struct {
	key crypto.PublicKey
	alg string
}

// JWKS is a parsed JSON Web Key Set: its signature keys by key id, and
// the document they were read from.
type JWKS struct {
	keys map[string]verificationKey
	raw  []byte
}

// Has reports whether the set holds a key kid.
func (s JWKS) Has(kid string) bool {
	_, ok := s.keys[kid]
	return ok
}

// ParseJWKS reads the signature keys of a JWKS by key id. Keys of other
// uses or types are skipped; a JWKS with no usable key is an error.
func ParseJWKS(raw []byte) (JWKS, error) {
	keys, err := parseJWKS(raw)
	if err != nil {
		return JWKS{}, err
	}
	return JWKS{keys: keys, raw: raw}, nil
}

func parseJWKS(raw []byte) (map[string]verificationKey, error) {
	var set jwkSet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	out := map[string]verificationKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		key, err := k.publicKey()
		if err != nil {
			continue
		}
		out[k.Kid] = verificationKey{key: key, alg: k.Alg}
	}
	if len(out) == 0 {
		return nil, errors.New("jwks: no usable signature key")
	}
	return out, nil
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %q not supported", k.Crv)
		}
		x, err1 := b64url.DecodeString(k.X)
		y, err2 := b64url.DecodeString(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC coordinates")
		}
		return ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	case "RSA":
		n, err1 := b64url.DecodeString(k.N)
		e, err2 := b64url.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA key (at least 2048 bits)")
		}
		exp := new(big.Int).SetBytes(e)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	}
	return nil, fmt.Errorf("key type %q not supported", k.Kty)
}
