package sdk

import (
	"context"
	"iter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// ServiceAccountFilter narrows ListServiceAccounts; zero fields do not filter.
type ServiceAccountFilter struct {
	DisplayName string
}

// CreateServiceAccount creates a service account (sa-…), which acts as
// principal User:<id>.
func (c *Client) CreateServiceAccount(ctx context.Context, sa *ServiceAccount, opts ...CallOption) (*ServiceAccount, error) {
	s := applyCall(opts)
	resp, err := c.serviceAccounts.CreateServiceAccount(ctx, &pb.CreateServiceAccountRequest{ServiceAccount: sa, RequestId: s.requestID})
	return resp.GetServiceAccount(), err
}

// GetServiceAccount reads a service account by id.
func (c *Client) GetServiceAccount(ctx context.Context, id string) (*ServiceAccount, error) {
	resp, err := c.serviceAccounts.GetServiceAccount(ctx, &pb.GetServiceAccountRequest{Id: id})
	return resp.GetServiceAccount(), err
}

// ListServiceAccounts iterates over the service accounts of the organization.
func (c *Client) ListServiceAccounts(ctx context.Context, f ServiceAccountFilter) iter.Seq2[*ServiceAccount, error] {
	return pages(func(token string) ([]*ServiceAccount, string, error) {
		resp, err := c.serviceAccounts.ListServiceAccounts(ctx, &pb.ListServiceAccountsRequest{PageSize: c.pageSize, PageToken: token, DisplayName: f.DisplayName})
		return resp.GetServiceAccounts(), resp.GetNextPageToken(), err
	})
}

// UpdateServiceAccount changes sa.Id (display_name, description).
func (c *Client) UpdateServiceAccount(ctx context.Context, sa *ServiceAccount, paths ...string) (*ServiceAccount, error) {
	resp, err := c.serviceAccounts.UpdateServiceAccount(ctx, &pb.UpdateServiceAccountRequest{Id: sa.GetId(), ServiceAccount: sa, UpdateMask: updateMask(paths)})
	return resp.GetServiceAccount(), err
}

// DeleteServiceAccount deletes a service account.
func (c *Client) DeleteServiceAccount(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.serviceAccounts.DeleteServiceAccount(ctx, &pb.DeleteServiceAccountRequest{Id: id, Etag: s.etag})
	return err
}

// UserFilter narrows ListUsers; zero fields do not filter.
type UserFilter struct {
	Email string
}

// CreateUser creates a user (u-…).
func (c *Client) CreateUser(ctx context.Context, u *User, opts ...CallOption) (*User, error) {
	s := applyCall(opts)
	resp, err := c.users.CreateUser(ctx, &pb.CreateUserRequest{User: u, RequestId: s.requestID})
	return resp.GetUser(), err
}

// GetUser reads a user by id.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	resp, err := c.users.GetUser(ctx, &pb.GetUserRequest{Id: id})
	return resp.GetUser(), err
}

// ListUsers iterates over the users of the organization.
func (c *Client) ListUsers(ctx context.Context, f UserFilter) iter.Seq2[*User, error] {
	return pages(func(token string) ([]*User, string, error) {
		resp, err := c.users.ListUsers(ctx, &pb.ListUsersRequest{PageSize: c.pageSize, PageToken: token, Email: f.Email})
		return resp.GetUsers(), resp.GetNextPageToken(), err
	})
}

// UpdateUser changes u.Id.
func (c *Client) UpdateUser(ctx context.Context, u *User, paths ...string) (*User, error) {
	resp, err := c.users.UpdateUser(ctx, &pb.UpdateUserRequest{Id: u.GetId(), User: u, UpdateMask: updateMask(paths)})
	return resp.GetUser(), err
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.users.DeleteUser(ctx, &pb.DeleteUserRequest{Id: id, Etag: s.etag})
	return err
}

// APIKeyFilter narrows ListAPIKeys; zero fields do not filter.
type APIKeyFilter struct {
	// Owner is a service account or user id.
	Owner string
	// Resource is "cloud" or a cluster id.
	Resource string
}

// CreateAPIKey creates a key for key.Owner on key.Resource ("cloud" for the
// API, a cluster id for Kafka). The returned key carries its secret, the
// only time it is shown; a retried create returns the key without it.
func (c *Client) CreateAPIKey(ctx context.Context, key *APIKey, opts ...CallOption) (*APIKey, error) {
	s := applyCall(opts)
	resp, err := c.apiKeys.CreateApiKey(ctx, &pb.CreateApiKeyRequest{ApiKey: key, RequestId: s.requestID})
	return resp.GetApiKey(), err
}

// GetAPIKey reads an API key (without its secret).
func (c *Client) GetAPIKey(ctx context.Context, id string) (*APIKey, error) {
	resp, err := c.apiKeys.GetApiKey(ctx, &pb.GetApiKeyRequest{Id: id})
	return resp.GetApiKey(), err
}

// ListAPIKeys iterates over the API keys of the organization.
func (c *Client) ListAPIKeys(ctx context.Context, f APIKeyFilter) iter.Seq2[*APIKey, error] {
	return pages(func(token string) ([]*APIKey, string, error) {
		resp, err := c.apiKeys.ListApiKeys(ctx, &pb.ListApiKeysRequest{PageSize: c.pageSize, PageToken: token, Owner: f.Owner, Resource: f.Resource})
		return resp.GetApiKeys(), resp.GetNextPageToken(), err
	})
}

// UpdateAPIKey changes key.Id (display_name, description).
func (c *Client) UpdateAPIKey(ctx context.Context, key *APIKey, paths ...string) (*APIKey, error) {
	resp, err := c.apiKeys.UpdateApiKey(ctx, &pb.UpdateApiKeyRequest{Id: key.GetId(), ApiKey: key, UpdateMask: updateMask(paths)})
	return resp.GetApiKey(), err
}

// DeleteAPIKey revokes an API key.
func (c *Client) DeleteAPIKey(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.apiKeys.DeleteApiKey(ctx, &pb.DeleteApiKeyRequest{Id: id, Etag: s.etag})
	return err
}

// RoleBindingFilter narrows ListRoleBindings; zero fields do not filter.
type RoleBindingFilter struct {
	Principal string
	RoleName  string
	// CRNPattern matches the bindings whose pattern starts with it.
	CRNPattern string
}

// CreateRoleBinding grants rb.RoleName to rb.Principal on rb.CrnPattern.
func (c *Client) CreateRoleBinding(ctx context.Context, rb *RoleBinding, opts ...CallOption) (*RoleBinding, error) {
	s := applyCall(opts)
	resp, err := c.roleBindings.CreateRoleBinding(ctx, &pb.CreateRoleBindingRequest{RoleBinding: rb, RequestId: s.requestID})
	return resp.GetRoleBinding(), err
}

// GetRoleBinding reads a role binding by id (rb-…).
func (c *Client) GetRoleBinding(ctx context.Context, id string) (*RoleBinding, error) {
	resp, err := c.roleBindings.GetRoleBinding(ctx, &pb.GetRoleBindingRequest{Id: id})
	return resp.GetRoleBinding(), err
}

// ListRoleBindings iterates over the role bindings of the organization.
func (c *Client) ListRoleBindings(ctx context.Context, f RoleBindingFilter) iter.Seq2[*RoleBinding, error] {
	return pages(func(token string) ([]*RoleBinding, string, error) {
		resp, err := c.roleBindings.ListRoleBindings(ctx, &pb.ListRoleBindingsRequest{
			PageSize: c.pageSize, PageToken: token, Principal: f.Principal, RoleName: f.RoleName, CrnPattern: f.CRNPattern,
		})
		return resp.GetRoleBindings(), resp.GetNextPageToken(), err
	})
}

// DeleteRoleBinding removes a role binding.
func (c *Client) DeleteRoleBinding(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.roleBindings.DeleteRoleBinding(ctx, &pb.DeleteRoleBindingRequest{Id: id, Etag: s.etag})
	return err
}

// CreateIdentityProvider registers an external OIDC provider (issuer,
// jwks_uri).
func (c *Client) CreateIdentityProvider(ctx context.Context, p *IdentityProvider, opts ...CallOption) (*IdentityProvider, error) {
	s := applyCall(opts)
	resp, err := c.identityProviders.CreateIdentityProvider(ctx, &pb.CreateIdentityProviderRequest{IdentityProvider: p, RequestId: s.requestID})
	return resp.GetIdentityProvider(), err
}

// GetIdentityProvider reads an identity provider by id (idp-…).
func (c *Client) GetIdentityProvider(ctx context.Context, id string) (*IdentityProvider, error) {
	resp, err := c.identityProviders.GetIdentityProvider(ctx, &pb.GetIdentityProviderRequest{Id: id})
	return resp.GetIdentityProvider(), err
}

// ListIdentityProviders iterates over the organization's identity providers.
func (c *Client) ListIdentityProviders(ctx context.Context) iter.Seq2[*IdentityProvider, error] {
	return pages(func(token string) ([]*IdentityProvider, string, error) {
		resp, err := c.identityProviders.ListIdentityProviders(ctx, &pb.ListIdentityProvidersRequest{PageSize: c.pageSize, PageToken: token})
		return resp.GetIdentityProviders(), resp.GetNextPageToken(), err
	})
}

// UpdateIdentityProvider changes p.Id.
func (c *Client) UpdateIdentityProvider(ctx context.Context, p *IdentityProvider, paths ...string) (*IdentityProvider, error) {
	resp, err := c.identityProviders.UpdateIdentityProvider(ctx, &pb.UpdateIdentityProviderRequest{Id: p.GetId(), IdentityProvider: p, UpdateMask: updateMask(paths)})
	return resp.GetIdentityProvider(), err
}

// DeleteIdentityProvider removes an identity provider.
func (c *Client) DeleteIdentityProvider(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.identityProviders.DeleteIdentityProvider(ctx, &pb.DeleteIdentityProviderRequest{Id: id, Etag: s.etag})
	return err
}

// CreateIdentityPool maps tokens of identity provider `provider` to a
// principal (pool-…).
func (c *Client) CreateIdentityPool(ctx context.Context, provider string, p *IdentityPool, opts ...CallOption) (*IdentityPool, error) {
	s := applyCall(opts)
	resp, err := c.identityPools.CreateIdentityPool(ctx, &pb.CreateIdentityPoolRequest{Provider: provider, IdentityPool: p, RequestId: s.requestID})
	return resp.GetIdentityPool(), err
}

// GetIdentityPool reads an identity pool.
func (c *Client) GetIdentityPool(ctx context.Context, provider, id string) (*IdentityPool, error) {
	resp, err := c.identityPools.GetIdentityPool(ctx, &pb.GetIdentityPoolRequest{Provider: provider, Id: id})
	return resp.GetIdentityPool(), err
}

// ListIdentityPools iterates over the pools of an identity provider.
func (c *Client) ListIdentityPools(ctx context.Context, provider string) iter.Seq2[*IdentityPool, error] {
	return pages(func(token string) ([]*IdentityPool, string, error) {
		resp, err := c.identityPools.ListIdentityPools(ctx, &pb.ListIdentityPoolsRequest{Provider: provider, PageSize: c.pageSize, PageToken: token})
		return resp.GetIdentityPools(), resp.GetNextPageToken(), err
	})
}

// UpdateIdentityPool changes p.Id of provider.
func (c *Client) UpdateIdentityPool(ctx context.Context, provider string, p *IdentityPool, paths ...string) (*IdentityPool, error) {
	resp, err := c.identityPools.UpdateIdentityPool(ctx, &pb.UpdateIdentityPoolRequest{Provider: provider, Id: p.GetId(), IdentityPool: p, UpdateMask: updateMask(paths)})
	return resp.GetIdentityPool(), err
}

// DeleteIdentityPool removes an identity pool.
func (c *Client) DeleteIdentityPool(ctx context.Context, provider, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.identityPools.DeleteIdentityPool(ctx, &pb.DeleteIdentityPoolRequest{Provider: provider, Id: id, Etag: s.etag})
	return err
}

// CreateCertificateAuthority registers a CA (certificate_chain, PEM) whose
// client certificates may authenticate to Kafka.
func (c *Client) CreateCertificateAuthority(ctx context.Context, ca *CertificateAuthority, opts ...CallOption) (*CertificateAuthority, error) {
	s := applyCall(opts)
	resp, err := c.certAuthorities.CreateCertificateAuthority(ctx, &pb.CreateCertificateAuthorityRequest{CertificateAuthority: ca, RequestId: s.requestID})
	return resp.GetCertificateAuthority(), err
}

// GetCertificateAuthority reads a certificate authority by id (ca-…).
func (c *Client) GetCertificateAuthority(ctx context.Context, id string) (*CertificateAuthority, error) {
	resp, err := c.certAuthorities.GetCertificateAuthority(ctx, &pb.GetCertificateAuthorityRequest{Id: id})
	return resp.GetCertificateAuthority(), err
}

// ListCertificateAuthorities iterates over the organization's CAs.
func (c *Client) ListCertificateAuthorities(ctx context.Context) iter.Seq2[*CertificateAuthority, error] {
	return pages(func(token string) ([]*CertificateAuthority, string, error) {
		resp, err := c.certAuthorities.ListCertificateAuthorities(ctx, &pb.ListCertificateAuthoritiesRequest{PageSize: c.pageSize, PageToken: token})
		return resp.GetCertificateAuthorities(), resp.GetNextPageToken(), err
	})
}

// UpdateCertificateAuthority changes ca.Id.
func (c *Client) UpdateCertificateAuthority(ctx context.Context, ca *CertificateAuthority, paths ...string) (*CertificateAuthority, error) {
	resp, err := c.certAuthorities.UpdateCertificateAuthority(ctx, &pb.UpdateCertificateAuthorityRequest{Id: ca.GetId(), CertificateAuthority: ca, UpdateMask: updateMask(paths)})
	return resp.GetCertificateAuthority(), err
}

// DeleteCertificateAuthority removes a certificate authority.
func (c *Client) DeleteCertificateAuthority(ctx context.Context, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.certAuthorities.DeleteCertificateAuthority(ctx, &pb.DeleteCertificateAuthorityRequest{Id: id, Etag: s.etag})
	return err
}

// CreateCertificatePool maps certificates of CA ca to a principal.
func (c *Client) CreateCertificatePool(ctx context.Context, ca string, p *CertificatePool, opts ...CallOption) (*CertificatePool, error) {
	s := applyCall(opts)
	resp, err := c.certPools.CreateCertificatePool(ctx, &pb.CreateCertificatePoolRequest{Ca: ca, CertificatePool: p, RequestId: s.requestID})
	return resp.GetCertificatePool(), err
}

// GetCertificatePool reads a certificate pool.
func (c *Client) GetCertificatePool(ctx context.Context, ca, id string) (*CertificatePool, error) {
	resp, err := c.certPools.GetCertificatePool(ctx, &pb.GetCertificatePoolRequest{Ca: ca, Id: id})
	return resp.GetCertificatePool(), err
}

// ListCertificatePools iterates over the pools of a CA.
func (c *Client) ListCertificatePools(ctx context.Context, ca string) iter.Seq2[*CertificatePool, error] {
	return pages(func(token string) ([]*CertificatePool, string, error) {
		resp, err := c.certPools.ListCertificatePools(ctx, &pb.ListCertificatePoolsRequest{Ca: ca, PageSize: c.pageSize, PageToken: token})
		return resp.GetCertificatePools(), resp.GetNextPageToken(), err
	})
}

// UpdateCertificatePool changes p.Id of CA ca.
func (c *Client) UpdateCertificatePool(ctx context.Context, ca string, p *CertificatePool, paths ...string) (*CertificatePool, error) {
	resp, err := c.certPools.UpdateCertificatePool(ctx, &pb.UpdateCertificatePoolRequest{Ca: ca, Id: p.GetId(), CertificatePool: p, UpdateMask: updateMask(paths)})
	return resp.GetCertificatePool(), err
}

// DeleteCertificatePool removes a certificate pool.
func (c *Client) DeleteCertificatePool(ctx context.Context, ca, id string, opts ...CallOption) error {
	s := applyCall(opts)
	_, err := c.certPools.DeleteCertificatePool(ctx, &pb.DeleteCertificatePoolRequest{Ca: ca, Id: id, Etag: s.etag})
	return err
}

// AuditEventFilter narrows ListAuditEvents; zero fields do not filter.
type AuditEventFilter struct {
	Principal string
	Action    string
	Outcome   string
	// Start and End bound the time of events: at or after Start, before End.
	Start, End time.Time
}

// ListAuditEvents iterates over the organization's audit log, newest first.
func (c *Client) ListAuditEvents(ctx context.Context, f AuditEventFilter) iter.Seq2[*AuditEvent, error] {
	var start, end *timestamppb.Timestamp
	if !f.Start.IsZero() {
		start = timestamppb.New(f.Start)
	}
	if !f.End.IsZero() {
		end = timestamppb.New(f.End)
	}
	return pages(func(token string) ([]*AuditEvent, string, error) {
		resp, err := c.auditEvents.ListAuditEvents(ctx, &pb.ListAuditEventsRequest{
			PageSize: c.pageSize, PageToken: token, Principal: f.Principal, Action: f.Action, Outcome: f.Outcome,
			StartTime: start, EndTime: end,
		})
		return resp.GetAuditEvents(), resp.GetNextPageToken(), err
	})
}
