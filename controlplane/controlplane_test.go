package controlplane_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/affluent-io/affluent/controlplane"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/internal/testutil"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

func TestMain(m *testing.M) {
	code := testutil.RunWithPostgres(m)
	if affluentBuild.dir != "" {
		os.RemoveAll(affluentBuild.dir)
	}
	os.Exit(code)
}

// clients are typed gRPC clients over one connection.
type clients struct {
	env   pb.EnvironmentServiceClient
	clu   pb.ClusterServiceClient
	topic pb.TopicServiceClient
	acl   pb.AclServiceClient
	quota pb.ClientQuotaServiceClient
	sa    pb.ServiceAccountServiceClient
	user  pb.UserServiceClient
	key   pb.ApiKeyServiceClient
	rb    pb.RoleBindingServiceClient
	idp   pb.IdentityProviderServiceClient
	pool  pb.IdentityPoolServiceClient
	ca    pb.CertificateAuthorityServiceClient
	cpool pb.CertificatePoolServiceClient
	op    pb.OperationServiceClient
	org   pb.OrganizationServiceClient
	audit pb.AuditEventServiceClient
}

func newClients(conn grpc.ClientConnInterface) clients {
	return clients{
		env: pb.NewEnvironmentServiceClient(conn), clu: pb.NewClusterServiceClient(conn), topic: pb.NewTopicServiceClient(conn),
		acl: pb.NewAclServiceClient(conn), quota: pb.NewClientQuotaServiceClient(conn), sa: pb.NewServiceAccountServiceClient(conn),
		user: pb.NewUserServiceClient(conn), key: pb.NewApiKeyServiceClient(conn), rb: pb.NewRoleBindingServiceClient(conn),
		idp: pb.NewIdentityProviderServiceClient(conn), pool: pb.NewIdentityPoolServiceClient(conn),
		ca: pb.NewCertificateAuthorityServiceClient(conn), cpool: pb.NewCertificatePoolServiceClient(conn),
		op: pb.NewOperationServiceClient(conn), org: pb.NewOrganizationServiceClient(conn), audit: pb.NewAuditEventServiceClient(conn),
	}
}

// serveGRPC serves the control plane on a loopback port with ServeGRPC.
func serveGRPC(t *testing.T, env *cptest.Env) clients {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.CP.ServeGRPC(ctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeGRPC: %v", err)
		}
	})
	return newClients(conn)
}

func as(key, secret string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte(key+":"+secret)))
}

func codeOf(err error) apierr.Code {
	if err == nil {
		return "OK"
	}
	st, _ := status.FromError(err)
	c, ok := apierr.CodeOf(st)
	if !ok {
		return apierr.Code("grpc:" + st.Code().String())
	}
	return c
}

func TestGRPCServerAuthenticatesFromMetadata(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true})
	c := serveGRPC(t, env)
	_, err := c.env.ListEnvironments(context.Background(), &pb.ListEnvironmentsRequest{})
	if codeOf(err) != apierr.Unauthenticated || status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no credentials: %v", err)
	}
	admin := as(env.Boot.CloudAPIKey, env.Boot.CloudAPISecret)
	var header metadata.MD
	resp, err := c.env.ListEnvironments(admin, &pb.ListEnvironmentsRequest{}, grpc.Header(&header))
	if err != nil || len(resp.GetEnvironments()) != 1 {
		t.Fatalf("list as admin = %v, %v", resp, err)
	}
	if len(header.Get("x-request-id")) != 1 {
		t.Fatalf("no x-request-id header: %v", header)
	}
	_, err = c.env.GetEnvironment(admin, &pb.GetEnvironmentRequest{Id: "env-nothere"})
	if codeOf(err) != apierr.NotFound || status.Code(err) != codes.NotFound {
		t.Fatalf("unknown environment: %v", err)
	}
}

// TestRBACMatrix calls representative RPCs as a principal holding each
// predefined role (bound where it usually is) and checks which are refused
// with PERMISSION_DENIED. Anything else (success, NOT_FOUND for the made-up
// ids used for deletes, …) means authorization let the call through.
func TestRBACMatrix(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true})
	c := serveGRPC(t, env)
	admin := as(env.Boot.CloudAPIKey, env.Boot.CloudAPISecret)
	org, envID, clusterID := env.Boot.OrganizationID, env.Boot.EnvironmentID, env.Boot.ClusterID
	if _, err := c.topic.CreateTopic(admin, &pb.CreateTopicRequest{Environment: envID, Cluster: clusterID, Topic: &pb.Topic{Name: "orders"}}); err != nil {
		t.Fatal(err)
	}
	cl, err := c.clu.GetCluster(admin, &pb.GetClusterRequest{Environment: envID, Id: clusterID})
	if err != nil {
		t.Fatal(err)
	}
	opID := cl.GetCluster().GetStatus().GetOperationId()
	topicsPattern := resource.KafkaCRN(org, envID, clusterID).String() + "/topic=orders*"

	roles := []struct{ name, pattern string }{
		{authz.OrganizationAdmin, resource.OrganizationCRN(org).String()},
		{authz.EnvironmentAdmin, resource.EnvironmentCRN(org, envID).String()},
		{authz.CloudClusterAdmin, resource.ClusterCRN(org, envID, clusterID).String()},
		{authz.Operator, resource.ClusterCRN(org, envID, clusterID).String()},
		{authz.MetricsViewer, resource.EnvironmentCRN(org, envID).String()},
		{authz.ResourceOwner, topicsPattern},
		{authz.DeveloperRead, topicsPattern},
		{authz.DeveloperWrite, topicsPattern},
		{authz.DeveloperManage, topicsPattern},
		{"None", ""},
	}
	callers := map[string]context.Context{}
	principals := map[string]string{}
	for _, r := range roles {
		sa, err := c.sa.CreateServiceAccount(admin, &pb.CreateServiceAccountRequest{ServiceAccount: &pb.ServiceAccount{DisplayName: "role " + r.name}})
		if err != nil {
			t.Fatal(err)
		}
		id := sa.GetServiceAccount().GetId()
		principals[r.name] = id
		if r.pattern != "" {
			if _, err := c.rb.CreateRoleBinding(admin, &pb.CreateRoleBindingRequest{RoleBinding: &pb.RoleBinding{
				Principal: "User:" + id, RoleName: r.name, CrnPattern: r.pattern}}); err != nil {
				t.Fatalf("bind %s: %v", r.name, err)
			}
		}
		k, err := c.key.CreateApiKey(admin, &pb.CreateApiKeyRequest{ApiKey: &pb.ApiKey{Owner: id, Resource: "cloud"}})
		if err != nil {
			t.Fatal(err)
		}
		callers[r.name] = as(k.GetApiKey().GetId(), k.GetApiKey().GetSecret())
	}

	const (
		OA = authz.OrganizationAdmin
		EA = authz.EnvironmentAdmin
		CA = authz.CloudClusterAdmin
		OP = authz.Operator
		MV = authz.MetricsViewer
		RO = authz.ResourceOwner
		DR = authz.DeveloperRead
		DW = authz.DeveloperWrite
		DM = authz.DeveloperManage
	)
	anyRole := []string{OA, EA, CA, OP, MV, RO, DR, DW, DM}
	type call func(ctx context.Context, role string) error
	rpcs := []struct {
		name    string
		call    call
		allowed []string
	}{
		{"CreateEnvironment", func(ctx context.Context, role string) error {
			_, err := c.env.CreateEnvironment(ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{DisplayName: "env by " + role}})
			return err
		}, []string{OA}},
		{"GetEnvironment", func(ctx context.Context, _ string) error {
			_, err := c.env.GetEnvironment(ctx, &pb.GetEnvironmentRequest{Id: envID})
			return err
		}, anyRole},
		{"UpdateEnvironment", func(ctx context.Context, role string) error {
			_, err := c.env.UpdateEnvironment(ctx, &pb.UpdateEnvironmentRequest{Id: envID, Environment: &pb.Environment{Description: "by " + role},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			return err
		}, []string{OA, EA}},
		{"DeleteEnvironment", func(ctx context.Context, _ string) error {
			_, err := c.env.DeleteEnvironment(ctx, &pb.DeleteEnvironmentRequest{Id: envID})
			if codeOf(err) == apierr.FailedPrecondition {
				return nil // allowed, refused because it holds a cluster
			}
			return err
		}, []string{OA}},
		{"CreateCluster", func(ctx context.Context, role string) error {
			_, err := c.clu.CreateCluster(ctx, &pb.CreateClusterRequest{Environment: envID, Cluster: &pb.Cluster{DisplayName: "cluster by " + role}})
			return err
		}, []string{OA, EA}},
		{"GetCluster", func(ctx context.Context, _ string) error {
			_, err := c.clu.GetCluster(ctx, &pb.GetClusterRequest{Environment: envID, Id: clusterID})
			return err
		}, anyRole},
		{"UpdateCluster", func(ctx context.Context, _ string) error {
			_, err := c.clu.UpdateCluster(ctx, &pb.UpdateClusterRequest{Environment: envID, Id: clusterID,
				Cluster:    &pb.Cluster{Spec: &pb.ClusterSpec{Limits: &pb.ClusterLimits{MaxConnections: 50}}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"spec.limits.max_connections"}}})
			return err
		}, []string{OA, EA, CA}},
		{"DeleteCluster", func(ctx context.Context, _ string) error {
			_, err := c.clu.DeleteCluster(ctx, &pb.DeleteClusterRequest{Environment: envID, Id: "lkc-nothere"})
			return err
		}, []string{OA, EA}},
		{"ListTopics", func(ctx context.Context, _ string) error {
			_, err := c.topic.ListTopics(ctx, &pb.ListTopicsRequest{Environment: envID, Cluster: clusterID})
			return err
		}, anyRole},
		{"CreateTopic", func(ctx context.Context, role string) error {
			_, err := c.topic.CreateTopic(ctx, &pb.CreateTopicRequest{Environment: envID, Cluster: clusterID,
				Topic: &pb.Topic{Name: "orders-" + strings.ToLower(role), PartitionsCount: 1}})
			return err
		}, []string{OA, EA, CA, RO, DM}},
		{"GetTopic", func(ctx context.Context, _ string) error {
			_, err := c.topic.GetTopic(ctx, &pb.GetTopicRequest{Environment: envID, Cluster: clusterID, Name: "orders"})
			return err
		}, []string{OA, EA, CA, OP, RO, DR, DW, DM}},
		{"UpdateTopic", func(ctx context.Context, _ string) error {
			_, err := c.topic.UpdateTopic(ctx, &pb.UpdateTopicRequest{Environment: envID, Cluster: clusterID, Name: "orders",
				Topic: &pb.Topic{Configs: map[string]string{"retention.ms": "60000"}}})
			return err
		}, []string{OA, EA, CA, RO, DM}},
		{"DeleteTopic", func(ctx context.Context, _ string) error {
			_, err := c.topic.DeleteTopic(ctx, &pb.DeleteTopicRequest{Environment: envID, Cluster: clusterID, Name: "orders-none"})
			return err
		}, []string{OA, EA, CA, RO, DM}},
		{"CreateAcl", func(ctx context.Context, role string) error {
			_, err := c.acl.CreateAcl(ctx, &pb.CreateAclRequest{Environment: envID, Cluster: clusterID, Acl: &pb.Acl{
				ResourceType: "TOPIC", ResourceName: "orders", Principal: "User:" + principals[role], Operation: "READ", Permission: "ALLOW"}})
			return err
		}, []string{OA, EA, CA}},
		{"ListAcls", func(ctx context.Context, _ string) error {
			_, err := c.acl.ListAcls(ctx, &pb.ListAclsRequest{Environment: envID, Cluster: clusterID})
			return err
		}, []string{OA, EA, CA}},
		{"ListClientQuotas", func(ctx context.Context, _ string) error {
			_, err := c.quota.ListClientQuotas(ctx, &pb.ListClientQuotasRequest{Environment: envID, Cluster: clusterID})
			return err
		}, []string{OA, EA, CA}},
		{"CreateServiceAccount", func(ctx context.Context, role string) error {
			_, err := c.sa.CreateServiceAccount(ctx, &pb.CreateServiceAccountRequest{ServiceAccount: &pb.ServiceAccount{DisplayName: "sa by " + role}})
			return err
		}, []string{OA}},
		{"GetServiceAccount", func(ctx context.Context, role string) error {
			_, err := c.sa.GetServiceAccount(ctx, &pb.GetServiceAccountRequest{Id: principals[role]})
			return err
		}, []string{OA}},
		{"CreateApiKey (cluster)", func(ctx context.Context, role string) error {
			_, err := c.key.CreateApiKey(ctx, &pb.CreateApiKeyRequest{ApiKey: &pb.ApiKey{Owner: principals[role], Resource: clusterID}})
			return err
		}, []string{OA, EA, CA}},
		{"CreateApiKey (cloud)", func(ctx context.Context, role string) error {
			_, err := c.key.CreateApiKey(ctx, &pb.CreateApiKeyRequest{ApiKey: &pb.ApiKey{Owner: principals[role], Resource: "cloud"}})
			return err
		}, []string{OA}},
		{"CreateRoleBinding (on a topic)", func(ctx context.Context, role string) error {
			_, err := c.rb.CreateRoleBinding(ctx, &pb.CreateRoleBindingRequest{RoleBinding: &pb.RoleBinding{Principal: "User:" + principals[role],
				RoleName: authz.DeveloperRead, CrnPattern: resource.TopicCRN(org, envID, clusterID, "orders").String()}})
			if codeOf(err) == apierr.AlreadyExists {
				return nil
			}
			return err
		}, []string{OA, EA, CA, RO}},
		{"CreateRoleBinding (OrganizationAdmin)", func(ctx context.Context, role string) error {
			_, err := c.rb.CreateRoleBinding(ctx, &pb.CreateRoleBindingRequest{RoleBinding: &pb.RoleBinding{Principal: "User:" + principals[role],
				RoleName: authz.OrganizationAdmin, CrnPattern: resource.OrganizationCRN(org).String()}})
			if codeOf(err) == apierr.AlreadyExists {
				return nil
			}
			return err
		}, []string{OA}},
		{"ListAuditEvents", func(ctx context.Context, _ string) error {
			_, err := c.audit.ListAuditEvents(ctx, &pb.ListAuditEventsRequest{})
			return err
		}, []string{OA}},
		{"GetOperation", func(ctx context.Context, _ string) error {
			_, err := c.op.GetOperation(ctx, &pb.GetOperationRequest{Operation: opID})
			return err
		}, anyRole},
		{"GetOrganization", func(ctx context.Context, _ string) error {
			_, err := c.org.GetOrganization(ctx, &pb.GetOrganizationRequest{Id: org})
			return err
		}, anyRole},
		{"UpdateOrganization", func(ctx context.Context, _ string) error {
			_, err := c.org.UpdateOrganization(ctx, &pb.UpdateOrganizationRequest{Id: org, Organization: &pb.Organization{DisplayName: "acme"}})
			return err
		}, []string{OA}},
		{"CreateIdentityProvider", func(ctx context.Context, role string) error {
			_, err := c.idp.CreateIdentityProvider(ctx, &pb.CreateIdentityProviderRequest{IdentityProvider: &pb.IdentityProvider{
				DisplayName: "idp " + role, Issuer: "https://issuer.example", JwksUri: "https://issuer.example/jwks"}})
			return err
		}, []string{OA}},
	}
	for _, rpc := range rpcs {
		for _, r := range roles {
			allowed := false
			for _, a := range rpc.allowed {
				allowed = allowed || a == r.name
			}
			err := rpc.call(callers[r.name], r.name)
			denied := codeOf(err) == apierr.PermissionDenied
			if denied == allowed {
				t.Errorf("%s as %s: %v; want allowed=%v", rpc.name, r.name, err, allowed)
			}
			if !denied && err != nil && codeOf(err) != apierr.NotFound {
				t.Errorf("%s as %s: unexpected error %v", rpc.name, r.name, err)
			}
		}
	}

	// Lists show each role only what it may see.
	envs, err := c.env.ListEnvironments(callers[DR], &pb.ListEnvironmentsRequest{})
	if err != nil || len(envs.GetEnvironments()) != 1 || envs.GetEnvironments()[0].GetId() != envID {
		t.Fatalf("DeveloperRead lists environments %v, %v; want only %s", envs, err, envID)
	}
	if _, err := c.env.ListEnvironments(callers["None"], &pb.ListEnvironmentsRequest{}); codeOf(err) != apierr.PermissionDenied {
		t.Fatalf("a principal without bindings lists environments: %v", err)
	}
	topics, err := c.topic.ListTopics(callers[DR], &pb.ListTopicsRequest{Environment: envID, Cluster: clusterID})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range topics.GetTopics() {
		names = append(names, tp.GetName())
	}
	sort.Strings(names)
	for _, n := range names {
		if !strings.HasPrefix(n, "orders") {
			t.Fatalf("DeveloperRead on orders* sees %v", names)
		}
	}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	for _, engine := range cptest.Engines {
		t.Run(engine, func(t *testing.T) {
			env := cptest.Start(t, engine, cptest.Options{NoGateway: true})
			first := env.Boot
			if !first.KeysCreated || first.CloudAPISecret == "" || first.KafkaAPISecret == "" || first.BootstrapServers != cptest.SharedBootstrap {
				t.Fatalf("first bootstrap: %+v", first)
			}
			again, err := env.CP.Bootstrap(context.Background(), controlplane.BootstrapOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if again.KeysCreated || again.CloudAPISecret != "" || again.OrganizationID != first.OrganizationID ||
				again.ClusterID != first.ClusterID || again.CloudAPIKey != first.CloudAPIKey || again.KafkaAPIKey != first.KafkaAPIKey {
				t.Fatalf("second bootstrap differs: %+v vs %+v", again, first)
			}
			principal, cluster, err := env.CP.VerifyKafkaKey(context.Background(), first.KafkaAPIKey, first.KafkaAPISecret)
			if err != nil || principal != "User:"+first.ServiceAccountID || cluster != first.ClusterID {
				t.Fatalf("VerifyKafkaKey = %q %q %v", principal, cluster, err)
			}
			if _, _, err := env.CP.VerifyKafkaKey(context.Background(), first.CloudAPIKey, first.CloudAPISecret); !errors.Is(err, controlplane.ErrInvalidKafkaCredentials) {
				t.Fatalf("a cloud key passed as a Kafka key: %v", err)
			}
			fresh, err := env.CP.Bootstrap(context.Background(), controlplane.BootstrapOptions{NewKeys: true})
			if err != nil || !fresh.KeysCreated || fresh.KafkaAPIKey == first.KafkaAPIKey {
				t.Fatalf("NewKeys bootstrap: %+v, %v", fresh, err)
			}
			policy, kafkaCRN, err := env.CP.KafkaPolicy(context.Background(), first.ClusterID, principal)
			if err != nil || !policy.DecideCRN(authz.TopicWrite, kafkaCRN.Child(authz.TypeTopic, "any")).Allowed {
				t.Fatalf("admin's Kafka policy does not allow writes: %v", err)
			}
		})
	}
}

func TestVerifyKafkaKeyIsCachedButNotStale(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true})
	ctx := context.Background()
	b := env.Boot
	start := time.Now()
	for range 50 {
		if _, _, err := env.CP.VerifyKafkaKey(ctx, b.KafkaAPIKey, b.KafkaAPISecret); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("50 verifications in %v", time.Since(start))
	c := serveGRPC(t, env)
	if _, err := c.key.DeleteApiKey(as(b.CloudAPIKey, b.CloudAPISecret), &pb.DeleteApiKeyRequest{Id: b.KafkaAPIKey}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.CP.VerifyKafkaKey(ctx, b.KafkaAPIKey, b.KafkaAPISecret); err == nil {
		t.Fatal("a deleted key still verifies")
	}
}

func TestDedicatedClusterFailsOnSharedCell(t *testing.T) {
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true})
	c := serveGRPC(t, env)
	admin := as(env.Boot.CloudAPIKey, env.Boot.CloudAPISecret)
	created, err := c.clu.CreateCluster(admin, &pb.CreateClusterRequest{Environment: env.Boot.EnvironmentID,
		Cluster: &pb.Cluster{DisplayName: "big", Spec: &pb.ClusterSpec{Type: "DEDICATED", Plan: "ENTERPRISE", Brokers: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		op, err := c.op.GetOperation(admin, &pb.GetOperationRequest{Operation: created.GetCluster().GetStatus().GetOperationId()})
		if err != nil {
			t.Fatal(err)
		}
		if op.GetOperation().GetDone() {
			if op.GetOperation().GetError().GetCode() == 0 || !strings.Contains(op.GetOperation().GetError().GetMessage(), "DEDICATED") {
				t.Fatalf("operation should fail naming the type: %v", op)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("operation not done")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, _ := c.clu.GetCluster(admin, &pb.GetClusterRequest{Environment: env.Boot.EnvironmentID, Id: created.GetCluster().GetId()})
	if got.GetCluster().GetStatus().GetPhase() != "FAILED" {
		t.Fatalf("phase = %s, want FAILED", got.GetCluster().GetStatus().GetPhase())
	}
	// A failed cluster can still be deleted.
	if _, err := c.clu.DeleteCluster(admin, &pb.DeleteClusterRequest{Environment: env.Boot.EnvironmentID, Id: created.GetCluster().GetId()}); err != nil {
		t.Fatal(err)
	}
}

// TestIdentityAndCertificateResources runs create, get, list, update and
// delete over users, identity providers and pools, certificate authorities
// and pools, and client quotas, on both engines.
func TestIdentityAndCertificateResources(t *testing.T) {
	for _, engine := range cptest.Engines {
		t.Run(engine, func(t *testing.T) {
			env := cptest.Start(t, engine, cptest.Options{NoGateway: true})
			c := serveGRPC(t, env)
			ctx := as(env.Boot.CloudAPIKey, env.Boot.CloudAPISecret)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}

			u, err := c.user.CreateUser(ctx, &pb.CreateUserRequest{User: &pb.User{Email: "ada@example.com", DisplayName: "Ada"}})
			must(err)
			if _, err := c.user.CreateUser(ctx, &pb.CreateUserRequest{User: &pb.User{Email: "ada@example.com"}}); codeOf(err) != apierr.AlreadyExists {
				t.Fatalf("duplicate email: %v", err)
			}
			if _, err := c.user.CreateUser(ctx, &pb.CreateUserRequest{User: &pb.User{Email: "not an email"}}); codeOf(err) != apierr.InvalidArgument {
				t.Fatalf("bad email: %v", err)
			}
			_, err = c.user.UpdateUser(ctx, &pb.UpdateUserRequest{Id: u.GetUser().GetId(), User: &pb.User{DisplayName: "Ada L."}})
			must(err)

			idp, err := c.idp.CreateIdentityProvider(ctx, &pb.CreateIdentityProviderRequest{IdentityProvider: &pb.IdentityProvider{
				DisplayName: "okta", Issuer: "https://okta.example", JwksUri: "https://okta.example/keys"}})
			must(err)
			if _, err := c.idp.CreateIdentityProvider(ctx, &pb.CreateIdentityProviderRequest{IdentityProvider: &pb.IdentityProvider{
				DisplayName: "plain", Issuer: "http://evil.example", JwksUri: "ftp://x"}}); codeOf(err) != apierr.InvalidArgument {
				t.Fatalf("insecure URLs accepted: %v", err)
			}
			provider := idp.GetIdentityProvider().GetId()
			pool, err := c.pool.CreateIdentityPool(ctx, &pb.CreateIdentityPoolRequest{Provider: provider, IdentityPool: &pb.IdentityPool{
				DisplayName: "apps", IdentityClaim: "claims.sub", Filter: `claims.aud == "kafka"`}})
			must(err)
			if !strings.HasPrefix(pool.GetIdentityPool().GetId(), "pool-") || pool.GetIdentityPool().GetPrincipal() != "User:"+pool.GetIdentityPool().GetId() {
				t.Fatalf("pool: %v", pool)
			}
			pools, err := c.pool.ListIdentityPools(ctx, &pb.ListIdentityPoolsRequest{Provider: provider})
			must(err)
			if len(pools.GetIdentityPools()) != 1 {
				t.Fatalf("pools: %v", pools)
			}
			// A pool is a principal: it can be granted roles.
			_, err = c.rb.CreateRoleBinding(ctx, &pb.CreateRoleBindingRequest{RoleBinding: &pb.RoleBinding{Principal: "User:" + pool.GetIdentityPool().GetId(),
				RoleName: authz.DeveloperRead, CrnPattern: resource.KafkaCRN(env.Boot.OrganizationID, env.Boot.EnvironmentID, env.Boot.ClusterID).String() + "/topic=*"}})
			must(err)
			if _, err := c.idp.DeleteIdentityProvider(ctx, &pb.DeleteIdentityProviderRequest{Id: provider}); codeOf(err) != apierr.FailedPrecondition {
				t.Fatalf("delete provider with pools: %v", err)
			}
			_, err = c.pool.UpdateIdentityPool(ctx, &pb.UpdateIdentityPoolRequest{Provider: provider, Id: pool.GetIdentityPool().GetId(),
				IdentityPool: &pb.IdentityPool{Filter: "true"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"filter"}}})
			must(err)
			_, err = c.pool.DeleteIdentityPool(ctx, &pb.DeleteIdentityPoolRequest{Provider: provider, Id: pool.GetIdentityPool().GetId()})
			must(err)
			rbs, err := c.rb.ListRoleBindings(ctx, &pb.ListRoleBindingsRequest{Principal: "User:" + pool.GetIdentityPool().GetId()})
			must(err)
			if len(rbs.GetRoleBindings()) != 0 {
				t.Fatal("a deleted pool's role bindings remain")
			}
			_, err = c.idp.DeleteIdentityProvider(ctx, &pb.DeleteIdentityProviderRequest{Id: provider})
			must(err)

			chain := selfSignedCA(t)
			ca, err := c.ca.CreateCertificateAuthority(ctx, &pb.CreateCertificateAuthorityRequest{CertificateAuthority: &pb.CertificateAuthority{
				DisplayName: "corp", CertificateChain: chain}})
			must(err)
			if len(ca.GetCertificateAuthority().GetFingerprints()) != 1 || len(ca.GetCertificateAuthority().GetExpirationTimes()) != 1 {
				t.Fatalf("ca: %v", ca)
			}
			if _, err := c.ca.CreateCertificateAuthority(ctx, &pb.CreateCertificateAuthorityRequest{CertificateAuthority: &pb.CertificateAuthority{
				DisplayName: "junk", CertificateChain: "-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n"}}); codeOf(err) != apierr.InvalidArgument {
				t.Fatalf("junk certificate: %v", err)
			}
			caID := ca.GetCertificateAuthority().GetId()
			cp, err := c.cpool.CreateCertificatePool(ctx, &pb.CreateCertificatePoolRequest{Ca: caID, CertificatePool: &pb.CertificatePool{
				DisplayName: "orders", ExternalIdentifier: "CN", Filter: `certificate.CN == "orders"`, Cluster: env.Boot.ClusterID}})
			must(err)
			if _, err := c.cpool.CreateCertificatePool(ctx, &pb.CreateCertificatePoolRequest{Ca: caID, CertificatePool: &pb.CertificatePool{
				DisplayName: "x", ExternalIdentifier: "CN", Filter: "true", Cluster: "lkc-nothere"}}); codeOf(err) != apierr.NotFound {
				t.Fatalf("pool on an unknown cluster: %v", err)
			}
			_, err = c.cpool.GetCertificatePool(ctx, &pb.GetCertificatePoolRequest{Ca: caID, Id: cp.GetCertificatePool().GetId()})
			must(err)
			_, err = c.cpool.DeleteCertificatePool(ctx, &pb.DeleteCertificatePoolRequest{Ca: caID, Id: cp.GetCertificatePool().GetId()})
			must(err)
			_, err = c.ca.DeleteCertificateAuthority(ctx, &pb.DeleteCertificateAuthorityRequest{Id: caID})
			must(err)

			// Client quotas reach the brokers and keep principals unique.
			sa, err := c.sa.CreateServiceAccount(ctx, &pb.CreateServiceAccountRequest{ServiceAccount: &pb.ServiceAccount{DisplayName: "quoted"}})
			must(err)
			p := "User:" + sa.GetServiceAccount().GetId()
			q, err := c.quota.CreateClientQuota(ctx, &pb.CreateClientQuotaRequest{Environment: env.Boot.EnvironmentID, Cluster: env.Boot.ClusterID,
				ClientQuota: &pb.ClientQuota{DisplayName: "q", Principals: []string{p}, IngressByteRate: 1000}})
			must(err)
			if _, err := c.quota.CreateClientQuota(ctx, &pb.CreateClientQuotaRequest{Environment: env.Boot.EnvironmentID, Cluster: env.Boot.ClusterID,
				ClientQuota: &pb.ClientQuota{DisplayName: "q2", Principals: []string{p}}}); codeOf(err) != apierr.AlreadyExists {
				t.Fatalf("second quota for a principal: %v", err)
			}
			adm, err := env.Kafka.For(context.Background(), env.Boot.ClusterID)
			must(err)
			described, err := adm.DescribeClientQuotas(context.Background(), false, nil)
			must(err)
			if len(described) != 1 || described[0].Values[0].Value != 1000 {
				t.Fatalf("brokers' quotas: %+v", described)
			}
			_, err = c.quota.UpdateClientQuota(ctx, &pb.UpdateClientQuotaRequest{Environment: env.Boot.EnvironmentID, Cluster: env.Boot.ClusterID,
				Id: q.GetClientQuota().GetId(), ClientQuota: &pb.ClientQuota{EgressByteRate: 5000}})
			must(err)
			_, err = c.quota.DeleteClientQuota(ctx, &pb.DeleteClientQuotaRequest{Environment: env.Boot.EnvironmentID, Cluster: env.Boot.ClusterID, Id: q.GetClientQuota().GetId()})
			must(err)
			described, err = adm.DescribeClientQuotas(context.Background(), false, nil)
			must(err)
			if len(described) != 0 {
				t.Fatalf("quotas left on the brokers: %+v", described)
			}
		})
	}
}

func selfSignedCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRestartKeepsStateAndMovesBootstrap(t *testing.T) {
	url := cptest.MetadataURL(t, "sqlite")
	open := func(bootstrap string) *controlplane.ControlPlane {
		cp, err := controlplane.Open(context.Background(), controlplane.Options{
			MetadataURL: url, SharedBootstrap: bootstrap, HashParams: &cptest.FastHash})
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	cp := open("127.0.0.1:9092")
	first, err := cp.Bootstrap(context.Background(), controlplane.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cp.Close()

	cp = open("127.0.0.1:19093")
	defer cp.Close()
	again, err := cp.Bootstrap(context.Background(), controlplane.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ClusterID != first.ClusterID || again.KafkaAPIKey != first.KafkaAPIKey || again.KeysCreated {
		t.Fatalf("state lost across a restart: %+v vs %+v", again, first)
	}
	if again.BootstrapServers != "127.0.0.1:19093" {
		t.Fatalf("bootstrap servers %q not updated after the broker moved", again.BootstrapServers)
	}
	if _, _, err := cp.VerifyKafkaKey(context.Background(), first.KafkaAPIKey, first.KafkaAPISecret); err != nil {
		t.Fatalf("key from before the restart: %v", err)
	}
}
