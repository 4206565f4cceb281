// Package credential makes and checks API key secrets. Keys look like
// Confluent's (16 uppercase letters and digits); secrets are 64 characters
// of base64url from 48 random bytes. Only a salted argon2id hash of a secret
// is ever stored, and checks compare in constant time. A small cache keeps
// recent successful checks so a client reconnecting does not pay argon2's
// cost each time.
package credential

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"golang.org/x/sync/singleflight"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Lengths of keys and secrets.
const (
	KeyLength    = 16
	SecretLength = 64
)

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewKey returns a new API key id.
func NewKey() string {
	var b [KeyLength]byte
	_, _ = rand.Read(b[:])
	for i, c := range b {
		// 252 = 7*36: reject the top values so every symbol is equally likely.
		for c >= 252 {
			var one [1]byte
			_, _ = rand.Read(one[:])
			c = one[0]
		}
		b[i] = keyAlphabet[int(c)%len(keyAlphabet)]
	}
	return string(b[:])
}

// IsKey reports whether s has the shape of an API key.
func IsKey(s string) bool {
	if len(s) != KeyLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(keyAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// NewSecret returns a new secret: 384 random bits as 64 base64url characters.
func NewSecret() string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Params are argon2id's cost parameters.
type Params struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams follow OWASP's argon2id recommendation (19 MiB, 2 passes).
var DefaultParams = Params{Time: 2, Memory: 19 * 1024, Threads: 1}

const (
	saltLen = 16
	hashLen = 32
)

// Hash returns the PHC string of an argon2id hash of secret with a fresh
// random salt: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func Hash(secret string, p Params) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	sum := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

// ErrMalformedHash reports a stored hash this package cannot read.
var ErrMalformedHash = errors.New("malformed argon2id hash")

// Verify reports whether secret matches the PHC string encoded.
func Verify(encoded, secret string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, ErrMalformedHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrMalformedHash
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Verifier checks secrets against stored hashes, remembering recent
// successes. An entry is keyed by the key id and an HMAC of the secret
// (never the secret), and is only used for the exact stored hash it was
// checked against, so a deleted or replaced key is never served from the
// cache: callers read the key's record on every check and pass its hash.
type Verifier struct {
	ttl        time.Duration
	maxEntries int
	hmacKey    [32]byte
	now        func() time.Time

	mu      sync.Mutex // guards entries
	entries map[cacheKey]cacheEntry

	// inflight lets concurrent first uses of one credential share a single
	// argon2 computation instead of each paying it (and its memory).
	inflight singleflight.Group
}

type cacheKey struct {
	keyID  string
	secret [sha256.Size]byte // HMAC of the secret under hmacKey
}

type cacheEntry struct {
	encodedHash string
	expires     time.Time
}

// NewVerifier returns a verifier caching successes for ttl, at most
// maxEntries of them.
func NewVerifier(ttl time.Duration, maxEntries int) *Verifier {
	v := &Verifier{ttl: ttl, maxEntries: maxEntries, now: time.Now, entries: map[cacheKey]cacheEntry{}}
	_, _ = rand.Read(v.hmacKey[:])
	return v
}

// Check reports whether secret is the secret of key keyID whose stored hash
// is encodedHash.
func (v *Verifier) Check(keyID, secret, encodedHash string) bool {
	mac := hmac.New(sha256.New, v.hmacKey[:])
	mac.Write([]byte(secret))
	k := cacheKey{keyID: keyID}
	copy(k.secret[:], mac.Sum(nil))
	now := v.now()

	v.mu.Lock()
	e, ok := v.entries[k]
	v.mu.Unlock()
	if ok && e.encodedHash == encodedHash && now.Before(e.expires) {
		return true
	}
	flightKey := keyID + "\x00" + string(k.secret[:]) + "\x00" + encodedHash
	res, _, _ := v.inflight.Do(flightKey, func() (any, error) {
		match, err := Verify(encodedHash, secret)
		return err == nil && match, nil
	})
	if !res.(bool) {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.maxEntries {
		v.evictLocked(now)
	}
	v.entries[k] = cacheEntry{encodedHash: encodedHash, expires: now.Add(v.ttl)}
	return true
}

// Forget drops the cached successes of keyID.
func (v *Verifier) Forget(keyID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.entries {
		if k.keyID == keyID {
			delete(v.entries, k)
		}
	}
}

// evictLocked drops expired entries, and if none expired, an arbitrary
// half of them. Called with mu held.
func (v *Verifier) evictLocked(now time.Time) {
	for k, e := range v.entries {
		if !now.Before(e.expires) {
			delete(v.entries, k)
		}
	}
	for k := range v.entries {
		if len(v.entries) < v.maxEntries/2+1 {
			break
		}
		delete(v.entries, k)
	}
}
