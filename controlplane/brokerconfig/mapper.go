package brokerconfig

import (
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// Snapshot maps the store's broker state to a snapshot (without version).
// Only verifiers go out: argon2id hashes of Kafka API keys, public keys,
// never a secret. providerJWKS holds each identity provider's fetched JWKS
// by provider id.
func Snapshot(st store.BrokerState, oauth *bpb.OAuth, providerJWKS map[string][]byte, internalHash string) *bpb.BrokerSnapshot {
	out := &bpb.BrokerSnapshot{Oauth: oauth, InternalCredentialHash: internalHash}
	for _, c := range st.Clusters {
		out.Clusters = append(out.Clusters, &bpb.Cluster{
			Id: c.ID, OrgId: c.OrgID, EnvironmentId: c.EnvironmentID, Phase: c.Phase, Type: c.Type,
			KafkaCrn: resource.KafkaCRN(c.OrgID, c.EnvironmentID, c.ID).String(),
			Limits: &bpb.ClusterLimits{
				IngressByteRate: c.Limits.IngressByteRate, EgressByteRate: c.Limits.EgressByteRate,
				MaxPartitions: c.Limits.MaxPartitions, MaxStorageBytes: c.Limits.MaxStorageBytes,
				MaxConnections: c.Limits.MaxConnections, MaxMessageBytes: c.Limits.MaxMessageBytes,
				MaxRequestRate: c.Limits.MaxRequestRate, MaxConnectionAttemptRate: c.Limits.MaxConnectionAttemptRate,
			},
		})
	}
	for _, k := range st.APIKeys {
		key := &bpb.ApiKey{Id: k.ID, OrgId: k.OrgID, Owner: k.Owner, Resource: k.Resource}
		if k.Resource != resource.CloudResource {
			// Brokers check Kafka keys' secrets; of cloud keys they only
			// need to know that they still exist (their tokens).
			key.SecretHash = k.SecretHash
		}
		out.ApiKeys = append(out.ApiKeys, key)
	}
	for _, rb := range st.RoleBindings {
		out.RoleBindings = append(out.RoleBindings, &bpb.RoleBinding{Id: rb.ID, OrgId: rb.OrgID,
			Principal: rb.Principal, RoleName: rb.RoleName, CrnPattern: rb.CRNPattern})
	}
	for _, p := range st.IdentityProviders {
		out.IdentityProviders = append(out.IdentityProviders, &bpb.IdentityProvider{Id: p.ID, OrgId: p.OrgID,
			Issuer: p.Issuer, JwksUri: p.JWKSURI, Jwks: string(providerJWKS[p.ID])})
	}
	for _, p := range st.IdentityPools {
		out.IdentityPools = append(out.IdentityPools, &bpb.IdentityPool{Id: p.ID, OrgId: p.OrgID,
			ProviderId: p.ProviderID, IdentityClaim: p.IdentityClaim, Filter: p.Filter})
	}
	for _, ca := range st.CertificateAuthorities {
		out.CertificateAuthorities = append(out.CertificateAuthorities, &bpb.CertificateAuthority{Id: ca.ID,
			OrgId: ca.OrgID, CertificateChain: ca.CertificateChain, Etag: ca.Etag})
	}
	for _, p := range st.CertificatePools {
		if p.ClusterID == "" {
			continue // bound to no cluster: accepts nobody
		}
		out.CertificatePools = append(out.CertificatePools, &bpb.CertificatePool{Id: p.ID, OrgId: p.OrgID,
			CaId: p.CAID, ExternalIdentifier: p.ExternalIdentifier, Filter: p.Filter, ClusterId: p.ClusterID})
	}
	return out
}
