// Package controlplane is Affluent's control plane: organizations,
// environments, clusters and their lifecycle, identity and access (users,
// service accounts, API keys, role bindings, identity providers and pools,
// certificate authorities and pools), client quotas, topics and ACLs (through
// the clusters' brokers) and the audit log, served over gRPC and persisted in
// SQLite or PostgreSQL.
//
// The rooms inside:
//
//   - authz: the one authorization engine (RBAC over CRNs, predefined roles,
//     see authz/ROLES.md); pure Go, for brokers too.
//   - access: the gate every RPC passes — authentication (API key over HTTP
//     Basic or a bearer TokenVerifier), per-principal rate limits, the Guard
//     services authorize with, the audit log.
//   - store: persistence, SQLite and PostgreSQL over shared migrations.
//   - apierr: the catalogue of errors users see; validate: every input rule.
//   - credential: API key secrets (argon2id) and the verification cache.
//   - oauth: the OAuth authorization server (client credentials grant,
//     rotating ES256 signing keys, JWKS) and the bearer token verifier, own
//     tokens and external OIDC providers' through identity pools.
//   - filter: the CEL filters of identity and certificate pools.
//   - scramcredential: SCRAM users of a cluster, over its brokers' Admin API.
//   - one package per service (environment, cluster, topic, …), each a
//     service.go and a mapper.go.
//   - cluster also holds the reconciler and the Provisioner interface;
//     kafka reaches clusters' brokers through the KafkaAdmin the process wires.
//   - cptest starts a control plane for tests.
//
// Wiring, as `affluent dev` does it:
//
//	cp, err := controlplane.Open(ctx, controlplane.Options{
//		MetadataURL:     "sqlite:///data/metadata.db",
//		SharedBootstrap: "127.0.0.1:9092", // what serverless clusters report
//		DataDropper:     dataplaneDropper, // deletes a deleted cluster's data
//		KafkaAdmin:      adminClients,     // kadm clients of a cluster's brokers
//		RESTEndpoint:    "http://127.0.0.1:8080",
//		Logger:          log,
//	})
//	defer cp.Close()
//	go cp.Run(ctx)                  // the cluster reconciler
//	go cp.ServeGRPC(ctx, grpcLis)   // the gRPC API
//	creds, err := cp.Bootstrap(ctx, controlplane.BootstrapOptions{})
//	gw, err := gateway.New(ctx, gateway.Options{Conn: cp.Conn(), Logger: log})
//	gw.Mount(mux)                   // /v1/… and /openapi.json
//
// Brokers authenticate SASL/PLAIN with VerifyKafkaKey, SASL/OAUTHBEARER with
// VerifyKafkaToken and mTLS with AuthenticateKafkaCertificate, report
// failures with RecordKafkaAuthFailure (audit log), and may authorize with
// KafkaPolicy. The gateway serves /oauth2/token and the .well-known
// documents with IssueToken, JWKS and OAuthIssuer (credentials.go).
package controlplane
