package kafkaauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// PoolDirectory finds pools by id; Recheck needs it for sessions that
// authenticated through a pool.
type PoolDirectory interface {
	// IdentityPool returns an identity pool whose identity provider still
	// exists.
	IdentityPool(ctx context.Context, id string) (resource.IdentityPool, error)
	CertificatePool(ctx context.Context, id string) (resource.CertificatePool, error)
}

// Recheck reports whether what an authentication rested on still stands
// in the directory: its cluster exists, runs, and is of the organization
// of the API key or pool of the grant, which still exists — the API key
// still owned by the principal (a deleted service account takes its keys
// with it), the identity pool's provider, the certificate pool's
// certificate authority and cluster. It is lookups only, no secret hash
// or signature, so that it can run over every open session at each change
// of the directory. An answer wrapping ErrRevoked means the session must
// end; another error, that the check could not be made.
func (r *Rules) Recheck(ctx context.Context, id Identity) error {
	c, err := r.dir.Cluster(ctx, id.Cluster)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: cluster %s no longer exists", ErrRevoked, id.Cluster)
	case err != nil:
		return err
	case c.Phase != resource.PhaseRunning:
		return fmt.Errorf("%w: cluster %s is %s", ErrRevoked, c.ID, c.Phase)
	}
	g := id.Grant
	switch {
	case g.APIKey != "":
		k, err := r.dir.APIKey(ctx, g.APIKey)
		switch {
		case errors.Is(err, ErrNotFound):
			return fmt.Errorf("%w: API key %s no longer exists", ErrRevoked, g.APIKey)
		case err != nil:
			return err
		case resource.Principal(k.Owner) != id.Principal || k.OrgID != c.OrgID:
			return fmt.Errorf("%w: API key %s no longer belongs to %s", ErrRevoked, g.APIKey, id.Principal)
		case k.Resource != resource.CloudResource && k.Resource != c.ID:
			return fmt.Errorf("%w: API key %s is not a key of cluster %s", ErrRevoked, g.APIKey, c.ID)
		}
	case g.Pool != "":
		pools, ok := r.dir.(PoolDirectory)
		if !ok {
			return errors.New("the directory cannot find pools by id")
		}
		if err := recheckPool(ctx, r.dir, pools, g.Pool, c); err != nil {
			return err
		}
	}
	return nil
}

// recheckPool checks that pool id (an identity or a certificate pool)
// still admits connections to cluster c.
func recheckPool(ctx context.Context, dir Directory, pools PoolDirectory, id string, c resource.Cluster) error {
	ip, err := pools.IdentityPool(ctx, id)
	if err == nil {
		if ip.OrgID != c.OrgID {
			return fmt.Errorf("%w: identity pool %s is not of the organization of cluster %s", ErrRevoked, id, c.ID)
		}
		return nil
	}
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	cp, err := pools.CertificatePool(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: pool %s no longer exists", ErrRevoked, id)
	case err != nil:
		return err
	case cp.ClusterID != c.ID || cp.OrgID != c.OrgID:
		return fmt.Errorf("%w: certificate pool %s no longer admits to cluster %s", ErrRevoked, id, c.ID)
	}
	_, cas, err := dir.CertificatePools(ctx)
	if err != nil {
		return err
	}
	if ca, ok := cas[cp.CAID]; !ok || ca.OrgID != cp.OrgID {
		return fmt.Errorf("%w: certificate authority %s of pool %s no longer exists", ErrRevoked, cp.CAID, id)
	}
	return nil
}
