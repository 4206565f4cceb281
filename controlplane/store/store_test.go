package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithPostgres(m)) }

// forEachEngine runs fn against a fresh SQLite and a fresh PostgreSQL store.
func forEachEngine(t *testing.T, fn func(t *testing.T, s *Store, url string)) {
	engines := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "metadata.db") },
		"postgres": func(t *testing.T) string { return testutil.PostgresURL(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			url := engines[name](t)
			s, err := Open(context.Background(), url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s, url)
		})
	}
}

func newOrg(t *testing.T, s *Store) string {
	t.Helper()
	id := resource.NewID("org-")
	if _, err := s.Organizations().Create(context.Background(), resource.Organization{
		Meta: resource.Meta{ID: id, OrgID: id}, DisplayName: "acme"}, RequestKey{}); err != nil {
		t.Fatal(err)
	}
	return id
}

func newEnv(t *testing.T, s *Store, org, name string) resource.Environment {
	t.Helper()
	env, err := s.Environments().Create(context.Background(), resource.Environment{
		Meta: resource.Meta{ID: resource.NewID(resource.PrefixEnvironment), OrgID: org}, DisplayName: name}, RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestMigrationsAreIdempotent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, url string) {
		ctx := context.Background()
		again, err := Open(ctx, url)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer again.Close()
		all, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		v, err := again.SchemaVersion(ctx)
		if err != nil || v != len(all) {
			t.Fatalf("schema version = %d, %v; want %d", v, err, len(all))
		}
	})
}

func TestCRUDAndConcurrency(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		org := newOrg(t, s)
		env := newEnv(t, s, org, "prod")
		if env.Etag == "" || env.CreateTime.IsZero() || !env.CreateTime.Equal(env.UpdateTime) {
			t.Fatalf("created env lacks etag or times: %+v", env)
		}
		got, err := s.Environments().Get(ctx, org, env.ID)
		if err != nil || got != env {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, env)
		}
		if _, err := s.Environments().Get(ctx, newOrg(t, s), env.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get from another organization: %v, want ErrNotFound", err)
		}
		dup := resource.Environment{Meta: resource.Meta{ID: resource.NewID(resource.PrefixEnvironment), OrgID: org}, DisplayName: "prod"}
		if _, err := s.Environments().Create(ctx, dup, RequestKey{}); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("duplicate display name: %v, want ErrAlreadyExists", err)
		}

		got.Description = "production"
		updated, err := s.Environments().Update(ctx, got, env.Etag)
		if err != nil || updated.Etag == env.Etag || updated.Description != "production" {
			t.Fatalf("Update = %+v, %v", updated, err)
		}
		if _, err := s.Environments().Update(ctx, got, env.Etag); !errors.Is(err, ErrEtagMismatch) {
			t.Fatalf("update with stale etag: %v, want ErrEtagMismatch", err)
		}
		if err := s.Environments().Delete(ctx, org, env.ID, env.Etag); !errors.Is(err, ErrEtagMismatch) {
			t.Fatalf("delete with stale etag: %v, want ErrEtagMismatch", err)
		}

		cluster := resource.Cluster{Meta: resource.Meta{ID: resource.NewID(resource.PrefixCluster), OrgID: org},
			EnvironmentID: env.ID, DisplayName: "c1", Type: resource.ClusterServerless, Phase: resource.PhaseProvisioning,
			OperationID: resource.NewID(resource.PrefixOperation), Limits: resource.Limits{MaxPartitions: 10}}
		cluster, err = s.Clusters().Create(ctx, cluster, RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		op, err := s.Operations().Get(ctx, org, cluster.OperationID)
		if err != nil || op.Done || op.Verb != resource.VerbCreate {
			t.Fatalf("cluster operation = %+v, %v", op, err)
		}
		if err := s.Environments().Delete(ctx, org, env.ID, ""); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("delete env with a cluster: %v, want ErrNotEmpty", err)
		}
		work, err := s.ClustersInPhase(ctx, resource.PhaseProvisioning)
		if err != nil || len(work) != 1 || work[0].Limits.MaxPartitions != 10 {
			t.Fatalf("ClustersInPhase = %+v, %v", work, err)
		}
		cluster.Phase = resource.PhaseRunning
		cluster, err = s.SetClusterStatus(ctx, cluster, cluster.Etag, &OperationResult{})
		if err != nil {
			t.Fatal(err)
		}
		if op, _ := s.Operations().Get(ctx, org, cluster.OperationID); !op.Done || op.ErrorCode != 0 {
			t.Fatalf("operation not done: %+v", op)
		}
		// Things that only make sense with the cluster go with it.
		sa, _ := s.ServiceAccounts().Create(ctx, resource.ServiceAccount{Meta: resource.Meta{ID: resource.NewID("sa-"), OrgID: org}, DisplayName: "app"}, RequestKey{})
		key, _ := s.APIKeys().Create(ctx, resource.APIKey{Meta: resource.Meta{ID: "KEY1", OrgID: org}, Owner: sa.ID, Resource: cluster.ID, SecretHash: "h"}, RequestKey{})
		crn := resource.TopicCRN(org, env.ID, cluster.ID, "t").String()
		if _, err := s.RoleBindings().Create(ctx, resource.RoleBinding{Meta: resource.Meta{ID: resource.NewID("rb-"), OrgID: org},
			Principal: resource.Principal(sa.ID), RoleName: "DeveloperRead", CRNPattern: crn}, RequestKey{}); err != nil {
			t.Fatal(err)
		}
		cluster.OperationID = resource.NewID(resource.PrefixOperation)
		cluster, err = s.BeginClusterDeletion(ctx, cluster, cluster.Etag)
		if err != nil || cluster.Phase != resource.PhaseDeleting {
			t.Fatalf("BeginClusterDeletion = %+v, %v", cluster, err)
		}
		if err := s.PurgeCluster(ctx, cluster); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupAPIKey(ctx, key.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("cluster API key survived the cluster: %v", err)
		}
		if rbs, _ := s.RoleBindings().ListAll(ctx, org, Query{}); len(rbs) != 0 {
			t.Fatalf("role bindings survived the cluster: %+v", rbs)
		}
		if err := s.Environments().Delete(ctx, org, env.ID, ""); err != nil {
			t.Fatalf("delete empty env: %v", err)
		}
	})
}

func TestRequestIDs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		org := newOrg(t, s)
		key := RequestKey{Method: "CreateEnvironment", RequestID: "r-1", Fingerprint: "f1"}
		first, err := s.Environments().Create(ctx, resource.Environment{Meta: resource.Meta{ID: "env-a", OrgID: org}, DisplayName: "a"}, key)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Environments().Create(ctx, resource.Environment{Meta: resource.Meta{ID: "env-b", OrgID: org}, DisplayName: "a"}, key)
		if err != nil || again.ID != first.ID {
			t.Fatalf("retry = %+v, %v; want the first environment", again, err)
		}
		key.Fingerprint = "f2"
		if _, err := s.Environments().Create(ctx, resource.Environment{Meta: resource.Meta{ID: "env-c", OrgID: org}, DisplayName: "c"}, key); !errors.Is(err, ErrRequestIDReused) {
			t.Fatalf("reuse for another request: %v, want ErrRequestIDReused", err)
		}
		if n, err := s.ForgetRequestIDs(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("ForgetRequestIDs = %d, %v", n, err)
		}
	})
}

func TestPaging(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		org := newOrg(t, s)
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			newEnv(t, s, org, name)
		}
		var names []string
		q := Query{PageSize: 2}
		for pages := 0; ; pages++ {
			page, next, err := s.Environments().List(ctx, org, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				names = append(names, e.DisplayName)
			}
			if next == "" {
				if pages != 2 {
					t.Fatalf("%d pages, want 3", pages+1)
				}
				break
			}
			q.PageToken = next
		}
		if len(names) != 5 || names[0] != "a" || names[4] != "e" {
			t.Fatalf("paged names = %v", names)
		}
		one, _, err := s.Environments().List(ctx, org, Query{Filters: []Filter{Eq("display_name", "c")}})
		if err != nil || len(one) != 1 {
			t.Fatalf("filter = %v, %v", one, err)
		}
		if _, _, err := s.Environments().List(ctx, org, Query{PageToken: "garbage!"}); !errors.Is(err, ErrBadPageToken) {
			t.Fatalf("bad token: %v", err)
		}
	})
}

func TestPrincipalCascadeAndQuotaUniqueness(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		org := newOrg(t, s)
		sa, _ := s.ServiceAccounts().Create(ctx, resource.ServiceAccount{Meta: resource.Meta{ID: "sa-1", OrgID: org}, DisplayName: "app"}, RequestKey{})
		if _, err := s.ServiceAccounts().Create(ctx, resource.ServiceAccount{Meta: resource.Meta{ID: "sa-2", OrgID: org}, DisplayName: "app"}, RequestKey{}); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("duplicate service account name: %v", err)
		}
		if ok, _ := s.PrincipalExists(ctx, org, "sa-1"); !ok {
			t.Fatal("PrincipalExists(sa-1) = false")
		}
		s.APIKeys().Create(ctx, resource.APIKey{Meta: resource.Meta{ID: "K1", OrgID: org}, Owner: sa.ID, Resource: "cloud", SecretHash: "h"}, RequestKey{})
		s.RoleBindings().Create(ctx, resource.RoleBinding{Meta: resource.Meta{ID: "rb-1", OrgID: org}, Principal: "User:sa-1", RoleName: "OrganizationAdmin", CRNPattern: "crn://affluent/organization=" + org}, RequestKey{})
		if err := s.ServiceAccounts().Delete(ctx, org, sa.ID, sa.Etag); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupAPIKey(ctx, "K1"); !errors.Is(err, ErrNotFound) {
			t.Fatal("API key survived its owner")
		}
		if rbs, _ := s.RoleBindings().ListAll(ctx, org, Query{}); len(rbs) != 0 {
			t.Fatal("role binding survived its principal")
		}

		env := newEnv(t, s, org, "e")
		c, err := s.Clusters().Create(ctx, resource.Cluster{Meta: resource.Meta{ID: "lkc-1", OrgID: org}, EnvironmentID: env.ID, DisplayName: "c", OperationID: "op-1"}, RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		q1 := resource.ClientQuota{Meta: resource.Meta{ID: "cq-1", OrgID: org}, EnvironmentID: env.ID, ClusterID: c.ID, DisplayName: "q1", Principals: []string{"User:sa-1", "User:sa-2"}}
		if _, err := s.ClientQuotas().Create(ctx, q1, RequestKey{}); err != nil {
			t.Fatal(err)
		}
		q2 := resource.ClientQuota{Meta: resource.Meta{ID: "cq-2", OrgID: org}, EnvironmentID: env.ID, ClusterID: c.ID, DisplayName: "q2", Principals: []string{"User:sa-2"}}
		if _, err := s.ClientQuotas().Create(ctx, q2, RequestKey{}); !errors.Is(err, ErrPrincipalHasQuota) {
			t.Fatalf("second quota for a principal: %v, want ErrPrincipalHasQuota", err)
		}
		got, _ := s.ClientQuotas().Get(ctx, org, "cq-1")
		got.Principals = []string{"User:sa-1"}
		if _, err := s.ClientQuotas().Update(ctx, got, got.Etag); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClientQuotas().Create(ctx, q2, RequestKey{}); err != nil {
			t.Fatalf("quota for a released principal: %v", err)
		}
	})
}

func TestAuditEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		base := time.Now().UTC().Truncate(time.Microsecond)
		for i := range 5 {
			outcome := "OK"
			if i%2 == 1 {
				outcome = "PERMISSION_DENIED"
			}
			if err := s.AppendAuditEvent(ctx, resource.AuditEvent{ID: resource.NewID("ae-"), OrgID: "o", Time: base.Add(time.Duration(i) * time.Second),
				Principal: "User:sa-1", Action: "topic.create", Outcome: outcome}); err != nil {
				t.Fatal(err)
			}
		}
		page, next, err := s.ListAuditEvents(ctx, "o", AuditQuery{PageSize: 3})
		if err != nil || len(page) != 3 || next == "" || !page[0].Time.Equal(base.Add(4*time.Second)) {
			t.Fatalf("first page = %+v, %q, %v", page, next, err)
		}
		rest, next, err := s.ListAuditEvents(ctx, "o", AuditQuery{PageSize: 3, PageToken: next})
		if err != nil || len(rest) != 2 || next != "" {
			t.Fatalf("second page = %+v, %q, %v", rest, next, err)
		}
		denied, _, _ := s.ListAuditEvents(ctx, "o", AuditQuery{Outcome: "PERMISSION_DENIED"})
		if len(denied) != 2 {
			t.Fatalf("denied events = %d, want 2", len(denied))
		}
	})
}
