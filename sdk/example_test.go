package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/affluent-io/affluent/sdk"
)

// Connect with a cloud API key and create an environment.
func Example() {
	ctx := context.Background()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	env, err := client.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "example-staging", Description: "for the examples"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(env.GetDisplayName(), strings.HasPrefix(env.GetId(), "env-"))
	// Output: example-staging true
}

// Connect with OAuth: tokens come from the token endpoint with the client
// credentials grant, the client id and secret being a service account's API
// key.
func ExampleWithClientCredentials() {
	ctx := context.Background()
	client, err := sdk.New(ctx, "api.affluent.example:443",
		sdk.WithClientCredentials("https://api.affluent.example/oauth2/token", "MYAPIKEY", "my-secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
}

// Bring your own tokens, from any oauth2.TokenSource.
func ExampleWithTokenSource() {
	ctx := context.Background()
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "eyJ…"})
	client, err := sdk.New(ctx, "api.affluent.example:443", sdk.WithTokenSource(ts))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
}

// Create a cluster and wait until Kafka clients can use it.
func ExampleClient_WaitClusterRunning() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	env, err := client.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "example-clusters"})
	if err != nil {
		log.Fatal(err)
	}
	created, err := client.CreateCluster(ctx, env.GetId(), &sdk.Cluster{DisplayName: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	cluster, err := client.WaitClusterRunning(ctx, env.GetId(), created.GetId())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cluster.GetDisplayName(), cluster.GetStatus().GetPhase(), cluster.GetStatus().GetBootstrapServers() != "")
	// Output: orders RUNNING true
}

// Creating a cluster starts an operation; WaitOperation follows it.
func ExampleClient_WaitOperation() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	env, err := client.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "example-operations"})
	if err != nil {
		log.Fatal(err)
	}
	cluster, err := client.CreateCluster(ctx, env.GetId(), &sdk.Cluster{DisplayName: "payments"})
	if err != nil {
		log.Fatal(err)
	}
	op, err := client.WaitOperation(ctx, cluster.GetStatus().GetOperationId())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(op.GetVerb(), op.GetDone())
	// Output: CREATE true
}

// List iterators fetch pages as they are consumed.
func ExampleClient_ListTopics() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure(), sdk.WithPageSize(2))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	env, cluster := devCreds.EnvironmentID, devCreds.ClusterID
	for _, name := range []string{"example.orders", "example.payments", "example.refunds"} {
		if _, err := client.CreateTopic(ctx, env, cluster, &sdk.Topic{Name: name, PartitionsCount: 3}); err != nil {
			log.Fatal(err)
		}
	}
	for topic, err := range client.ListTopics(ctx, env, cluster, sdk.TopicFilter{NamePrefix: "example."}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(topic.GetName(), topic.GetPartitionsCount())
	}
	// Output:
	// example.orders 3
	// example.payments 3
	// example.refunds 3
}

// Errors keep their gRPC status and match the package's sentinels.
func ExampleError() {
	ctx := context.Background()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.GetEnvironment(ctx, "env-doesnotexist")
	fmt.Println(errors.Is(err, sdk.ErrNotFound))
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Code, apiErr.Reason)
	}
	// Output:
	// true
	// NotFound NOT_FOUND
}

// A service account with a Kafka API key and a role binding on one topic.
func ExampleClient_CreateAPIKey() {
	ctx := context.Background()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	sa, err := client.CreateServiceAccount(ctx, &sdk.ServiceAccount{DisplayName: "example-orders-app"})
	if err != nil {
		log.Fatal(err)
	}
	key, err := client.CreateAPIKey(ctx, &sdk.APIKey{Owner: sa.GetId(), Resource: devCreds.ClusterID, DisplayName: "orders-app"})
	if err != nil {
		log.Fatal(err)
	}
	crn := fmt.Sprintf("crn://affluent/organization=%s/environment=%s/cloud-cluster=%s/kafka=%s/topic=orders",
		devCreds.OrganizationID, devCreds.EnvironmentID, devCreds.ClusterID, devCreds.ClusterID)
	rb, err := client.CreateRoleBinding(ctx, &sdk.RoleBinding{Principal: sa.GetPrincipal(), RoleName: "DeveloperWrite", CrnPattern: crn})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sa.GetPrincipal() == "User:"+sa.GetId(), len(key.GetSecret()), rb.GetRoleName())
	// Output: true 64 DeveloperWrite
}

// Collect gathers an iterator into a slice.
func ExampleCollect() {
	ctx := context.Background()
	client, err := sdk.New(ctx, endpoint, sdk.WithAPIKey(apiKey, apiSecret), sdk.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	envs, err := sdk.Collect(client.ListEnvironments(ctx, sdk.EnvironmentFilter{DisplayName: "example-staging"}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(envs))
	// Output: 1
}
