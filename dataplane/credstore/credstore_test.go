package credstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/affluent-io/affluent/dataplane/sasl"
	"github.com/affluent-io/affluent/internal/testutil"
)

// Each engine runs the same suite.
func TestStore(t *testing.T) {
	for _, engine := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "meta.db") }},
		{"postgres", func(t *testing.T) string { return testutil.PostgresURL(t) }},
	} {
		t.Run(engine.name, func(t *testing.T) { testStore(t, engine.url(t)) })
	}
}

func testStore(t *testing.T, url string) {
	ctx := context.Background()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Opening twice (a second broker, a restart) keeps what is there.
	again, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	again.Close()

	c256, _ := sasl.ScramSHA256.NewCredential("pw", 4096)
	c512, _ := sasl.ScramSHA512.NewCredential("pw", 8192)
	if err := s.AlterScram(ctx, "lkc-a", map[string][]sasl.ScramCredential{"alice": {c256, c512}, "bob": {c256}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AlterScram(ctx, "lkc-b", map[string][]sasl.ScramCredential{"alice": {c512}}, nil); err != nil {
		t.Fatal(err)
	}

	got, found, err := s.LookupScram(ctx, "lkc-a", "alice", sasl.ScramSHA512)
	if err != nil || !found {
		t.Fatalf("lookup: %v found=%v", err, found)
	}
	if string(got.StoredKey) != string(c512.StoredKey) || string(got.ServerKey) != string(c512.ServerKey) ||
		string(got.Salt) != string(c512.Salt) || got.Iterations != 8192 || got.Mechanism != sasl.ScramSHA512 {
		t.Fatalf("lookup returned %+v, want %+v", got, c512)
	}
	if _, found, _ := s.LookupScram(ctx, "lkc-b", "bob", sasl.ScramSHA256); found {
		t.Fatal("bob of lkc-a found in lkc-b: clusters must not share users")
	}

	all, err := s.ScramCredentials(ctx, "lkc-a", nil)
	if err != nil || len(all) != 2 || len(all["alice"]) != 2 || len(all["bob"]) != 1 || all["alice"][1].Iterations != 8192 {
		t.Fatalf("describe all: %v %+v", err, all)
	}
	some, err := s.ScramCredentials(ctx, "lkc-a", []string{"bob", "nobody"})
	if err != nil || len(some) != 1 || len(some["bob"]) != 1 {
		t.Fatalf("describe bob, nobody: %v %+v", err, some)
	}

	// Upsert replaces, deletion removes, in one call.
	n256, _ := sasl.ScramSHA256.NewCredential("new", 4096)
	if err := s.AlterScram(ctx, "lkc-a", map[string][]sasl.ScramCredential{"alice": {n256}},
		map[string][]sasl.ScramMechanism{"alice": {sasl.ScramSHA512}, "bob": {sasl.ScramSHA256}}); err != nil {
		t.Fatal(err)
	}
	all, _ = s.ScramCredentials(ctx, "lkc-a", nil)
	if len(all) != 1 || len(all["alice"]) != 1 || all["alice"][0].Mechanism != sasl.ScramSHA256 {
		t.Fatalf("after alter: %+v", all)
	}
	got, _, _ = s.LookupScram(ctx, "lkc-a", "alice", sasl.ScramSHA256)
	if string(got.StoredKey) != string(n256.StoredKey) {
		t.Fatal("upsert did not replace the credential")
	}

	if err := s.DeleteCluster(ctx, "lkc-a"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ScramCredentials(ctx, "lkc-a", nil); len(all) != 0 {
		t.Fatalf("after DeleteCluster: %+v", all)
	}
	if b, _ := s.ScramCredentials(ctx, "lkc-b", nil); len(b) != 1 {
		t.Fatalf("DeleteCluster of lkc-a touched lkc-b: %+v", b)
	}
}
