package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/affluent-io/affluent/controlplane/store"
)

// signingAlg is the algorithm of the control plane's tokens: ECDSA P-256
// with SHA-256, small and fast to verify.
const signingAlg = "ES256"

// SigningAlgorithm is the algorithm of the tokens the service issues.
const SigningAlgorithm = signingAlg

// keyStore persists signing keys (store.Store in production).
type keyStore interface {
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	RotateSigningKey(ctx context.Context, k store.SigningKey, forgetBefore time.Time) error
}

type signingKey struct {
	kid     string
	private *ecdsa.PrivateKey
	created time.Time
	retired time.Time // zero while it signs
}

// keyRing holds the signing keys: the newest signs, and every key whose
// tokens may still be valid is published and accepted. The keys live in
// the metadata DB, so every control plane sharing it signs with and
// publishes the same keys; each reloads them when it meets a key id it
// does not know, or every reloadEvery.
type keyRing struct {
	store    keyStore
	rotation time.Duration // how long a key signs
	keep     time.Duration // how long a retired key stays published
	now      func() time.Time
	log      *slog.Logger

	rotateMu sync.Mutex // one rotation at a time in this process

	mu     sync.Mutex // guards keys and loaded
	keys   []signingKey
	loaded time.Time
}

const (
	reloadEvery = time.Minute
	// reloadMissAfter throttles reloads on unknown key ids, which anyone
	// can send.
	reloadMissAfter = 5 * time.Second
)

func (r *keyRing) load(ctx context.Context) error {
	stored, err := r.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	keys := make([]signingKey, 0, len(stored))
	for _, s := range stored {
		if s.Algorithm != signingAlg {
			continue
		}
		block, _ := pem.Decode([]byte(s.PrivatePEM))
		if block == nil {
			return fmt.Errorf("signing key %s: not PEM", s.KID)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", s.KID, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return fmt.Errorf("signing key %s: not an ECDSA key", s.KID)
		}
		keys = append(keys, signingKey{kid: s.KID, private: ec, created: s.CreateTime, retired: s.RetireTime})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys, r.loaded = keys, r.now()
	return nil
}

// current returns the key that signs, rotating when there is none or it
// has signed for the rotation period.
func (r *keyRing) current(ctx context.Context) (signingKey, error) {
	if k, ok := r.fresh(); ok {
		return k, nil
	}
	if err := r.load(ctx); err != nil {
		return signingKey{}, err
	}
	if k, ok := r.fresh(); ok {
		return k, nil
	}
	if err := r.rotateIfDue(ctx); err != nil {
		return signingKey{}, err
	}
	if k, ok := r.fresh(); ok {
		return k, nil
	}
	return signingKey{}, errors.New("no signing key after rotation")
}

// fresh returns the newest key that signs if it is not due for rotation
// and the ring was loaded recently.
func (r *keyRing) fresh() (signingKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.loaded) > reloadEvery {
		return signingKey{}, false
	}
	for _, k := range r.keys {
		if k.retired.IsZero() {
			return k, now.Sub(k.created) < r.rotation
		}
	}
	return signingKey{}, false
}

// rotateIfDue rotates unless a fresh key appeared meanwhile (another
// goroutine or control plane rotated).
func (r *keyRing) rotateIfDue(ctx context.Context) error {
	r.rotateMu.Lock()
	defer r.rotateMu.Unlock()
	if err := r.load(ctx); err != nil {
		return err
	}
	if _, ok := r.fresh(); ok {
		return nil
	}
	return r.rotateLocked(ctx)
}

// Rotate makes a new signing key now; the previous one stays published
// until the tokens it signed have expired.
func (r *keyRing) Rotate(ctx context.Context) error {
	r.rotateMu.Lock()
	defer r.rotateMu.Unlock()
	return r.rotateLocked(ctx)
}

func (r *keyRing) rotateLocked(ctx context.Context) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return err
	}
	// The key id is a digest of the public key: stable, and it says
	// nothing else.
	sum := sha256.Sum256(pub)
	kid := b64url.EncodeToString(sum[:12])
	now := r.now().UTC().Truncate(time.Microsecond)
	if err := r.store.RotateSigningKey(ctx, store.SigningKey{
		KID: kid, Algorithm: signingAlg, CreateTime: now,
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}, now.Add(-r.keep)); err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	r.log.Info("oauth signing key rotated", "kid", kid)
	return r.load(ctx)
}

// published reports whether k's tokens may still be valid at now.
func (r *keyRing) published(k signingKey, now time.Time) bool {
	return k.retired.IsZero() || now.Before(k.retired.Add(r.keep))
}

// publicKey returns the public key of kid if it is published.
func (r *keyRing) publicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	find := func() (*ecdsa.PublicKey, bool, time.Time) {
		r.mu.Lock()
		defer r.mu.Unlock()
		now := r.now()
		for _, k := range r.keys {
			if k.kid == kid && r.published(k, now) {
				return &k.private.PublicKey, true, r.loaded
			}
		}
		return nil, false, r.loaded
	}
	pub, ok, loaded := find()
	if ok && r.now().Sub(loaded) < reloadEvery {
		return pub, nil
	}
	if r.now().Sub(loaded) >= reloadMissAfter {
		if err := r.load(ctx); err != nil {
			return nil, err
		}
		pub, ok, _ = find()
	}
	if !ok {
		return nil, errUnknownKey
	}
	return pub, nil
}

// ErrUnknownKey refuses a token whose key id names no published key.
var ErrUnknownKey = errors.New("unknown signing key id")

var errUnknownKey = ErrUnknownKey

// jwks is the JSON Web Key Set of the published keys, the current first.
func (r *keyRing) jwks(ctx context.Context) ([]byte, error) {
	if _, err := r.current(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	keys := r.keys
	r.mu.Unlock()
	now := r.now()
	set := jwkSet{Keys: []jwk{}}
	for _, k := range keys {
		if !r.published(k, now) {
			continue
		}
		j, err := publicJWK(k.kid, signingAlg, &k.private.PublicKey)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}

// run rotates the key when due until ctx ends.
func (r *keyRing) run(ctx context.Context) {
	every := min(r.rotation/10, time.Hour)
	t := time.NewTicker(max(every, time.Second))
	defer t.Stop()
	for {
		if _, err := r.current(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("oauth signing key check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
