package credential

import (
	"strings"
	"testing"
	"time"
)

var fast = Params{Time: 1, Memory: 1024, Threads: 1}

func TestKeyAndSecretShape(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := NewKey()
		if !IsKey(k) || seen[k] {
			t.Fatalf("bad or repeated key %q", k)
		}
		seen[k] = true
		s := NewSecret()
		if len(s) != SecretLength || strings.ContainsAny(s, "+/=") {
			t.Fatalf("secret %q: want %d base64url characters", s, SecretLength)
		}
	}
	for _, bad := range []string{"", "abcdefghijklmnop", "ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNOP1", "ABCDEFGH-JKLMNOP"} {
		if IsKey(bad) {
			t.Errorf("IsKey(%q) = true", bad)
		}
	}
}

func TestHashVerify(t *testing.T) {
	secret := NewSecret()
	h1, h2 := Hash(secret, fast), Hash(secret, fast)
	if h1 == h2 {
		t.Fatal("two hashes of one secret are equal: salt not random")
	}
	if strings.Contains(h1, secret) || !strings.HasPrefix(h1, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", h1)
	}
	for _, h := range []string{h1, h2} {
		if ok, err := Verify(h, secret); !ok || err != nil {
			t.Fatalf("Verify(right secret) = %v, %v", ok, err)
		}
	}
	if ok, _ := Verify(h1, secret[:63]+"x"); ok {
		t.Fatal("Verify(wrong secret) = true")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", h1 + "$"} {
		if _, err := Verify(bad, secret); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", bad)
		}
	}
}

func TestVerifierCachesOnlyExactMatches(t *testing.T) {
	v := NewVerifier(time.Minute, 4)
	now := time.Unix(1000, 0)
	v.now = func() time.Time { return now }
	secret := NewSecret()
	hash := Hash(secret, fast)
	if !v.Check("K1", secret, hash) {
		t.Fatal("right secret refused")
	}
	// A cached success is served without argon2: prove it with a hash that
	// would not verify but is the same string.
	if !v.Check("K1", secret, hash) {
		t.Fatal("cached success refused")
	}
	if v.Check("K1", "wrong", hash) {
		t.Fatal("wrong secret accepted")
	}
	other := Hash(NewSecret(), fast)
	if v.Check("K1", secret, other) {
		t.Fatal("cache served a success for a replaced hash")
	}
	now = now.Add(2 * time.Minute)
	v.mu.Lock()
	n := len(v.entries)
	v.mu.Unlock()
	if n != 1 {
		t.Fatalf("cache has %d entries, want 1", n)
	}
	for i := range 10 {
		s := NewSecret()
		if !v.Check(string(rune('A'+i)), s, Hash(s, fast)) {
			t.Fatal("refused")
		}
	}
	v.mu.Lock()
	n = len(v.entries)
	v.mu.Unlock()
	if n > 4 {
		t.Fatalf("cache grew to %d entries, limit 4", n)
	}
	v.Forget("A")
}
