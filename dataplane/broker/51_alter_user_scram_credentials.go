package broker

// AlterUserScramCredentials: v0 (KIP-554).
//
// Upserts and deletes SCRAM credentials of users of the connection's
// cluster. An upsertion carries the salt, the iterations and the salted
// password the client computed (the password never travels); only StoredKey
// and ServerKey derived from it are kept. Kafka's rules, with one result per
// user: an unknown mechanism is UNSUPPORTED_SASL_MECHANISM; an empty name,
// iterations outside 4096..16384, an empty salt or a salted password of the
// wrong length UNACCEPTABLE_CREDENTIAL; the same user and mechanism twice in
// the request DUPLICATE_RESOURCE; deleting a credential that does not exist
// RESOURCE_NOT_FOUND. Names that Affluent's own principals use (sa-…, u-…,
// pool-…, __…) are UNACCEPTABLE_CREDENTIAL, so that a SCRAM user cannot pose
// as a service account. A user with any error has none of its changes
// applied; the others' are, in one transaction. It needs ALTER on the
// cluster (CLUSTER_AUTHORIZATION_FAILED for every user).

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/sasl"
)

const apiAlterUserScramCredentials = 51

func init() {
	register(api{key: apiAlterUserScramCredentials, minVersion: 0, maxVersion: 0, lane: laneAdmin, handle: (*Broker).handleAlterUserScramCredentials})
}

// reservedScramPrefixes start the names of Affluent's own principals.
var reservedScramPrefixes = []string{"sa-", "u-", "pool-", "__"}

// scramUserChange is what one request asks of one user.
type scramUserChange struct {
	upserts   []sasl.ScramCredential
	deletions []sasl.ScramMechanism
	err       *codeError
	seen      map[sasl.ScramMechanism]bool
}

func (u *scramUserChange) fail(code int16, format string, args ...any) {
	if u.err == nil {
		u.err = &codeError{code: code, msg: fmt.Sprintf(format, args...)}
	}
}

// claim notes that the request touches (user, m), failing a second time.
func (u *scramUserChange) claim(m sasl.ScramMechanism) bool {
	if u.seen[m] {
		u.fail(kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
		return false
	}
	u.seen[m] = true
	return true
}

func (b *Broker) handleAlterUserScramCredentials(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)

	var order []string
	changes := map[string]*scramUserChange{}
	user := func(name string) *scramUserChange {
		u, ok := changes[name]
		if !ok {
			u = &scramUserChange{seen: map[sasl.ScramMechanism]bool{}}
			changes[name] = u
			order = append(order, name)
			if name == "" {
				u.fail(kerr.UnacceptableCredential.Code, "Username must not be empty")
			}
			for _, p := range reservedScramPrefixes {
				if strings.HasPrefix(name, p) {
					u.fail(kerr.UnacceptableCredential.Code, "Usernames starting with %q are reserved", p)
				}
			}
		}
		return u
	}
	for _, d := range req.Deletions {
		u, m := user(d.Name), sasl.ScramMechanism(d.Mechanism)
		if !m.Valid() {
			u.fail(kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
			continue
		}
		if u.claim(m) {
			u.deletions = append(u.deletions, m)
		}
	}
	for _, up := range req.Upsertions {
		u, m := user(up.Name), sasl.ScramMechanism(up.Mechanism)
		if !m.Valid() {
			u.fail(kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
			continue
		}
		if !u.claim(m) {
			continue
		}
		cred, err := m.CredentialFromSalted(up.SaltedPassword, up.Salt, int(up.Iterations))
		if err != nil {
			u.fail(kerr.UnacceptableCredential.Code, "%v", err)
			continue
		}
		u.upserts = append(u.upserts, cred)
	}

	switch {
	case !b.clusterAllowed(ctx, r, acl.OpAlter):
		for _, name := range order {
			changes[name].err = &codeError{code: kerr.ClusterAuthorizationFailed.Code}
		}
	case b.cfg.Scram == nil:
		for _, name := range order {
			changes[name].fail(kerr.UnsupportedSaslMechanism.Code, "SCRAM is not enabled on this broker")
		}
	default:
		if err := b.checkScramDeletions(ctx, r.cluster(), order, changes); err != nil {
			for _, name := range order {
				changes[name].fail(kerr.UnknownServerError.Code, "the credential store failed")
			}
		}
	}

	upserts := map[string][]sasl.ScramCredential{}
	deletions := map[string][]sasl.ScramMechanism{}
	for _, name := range order {
		if u := changes[name]; u.err == nil {
			if len(u.upserts) > 0 {
				upserts[name] = u.upserts
			}
			if len(u.deletions) > 0 {
				deletions[name] = u.deletions
			}
		}
	}
	if len(upserts)+len(deletions) > 0 {
		if err := b.cfg.Scram.AlterScram(ctx, r.cluster(), upserts, deletions); err != nil {
			r.conn.log.Warn("alter scram credentials failed", "cluster", r.cluster(), "err", err)
			for _, name := range order {
				changes[name].fail(kerr.UnknownServerError.Code, "the credential store failed")
			}
		} else {
			r.conn.log.Info("scram credentials altered", "cluster", r.cluster(), "by", r.principal.Name,
				"upserted", sortedKeys(upserts), "deleted", sortedKeys(deletions))
		}
	}
	for _, name := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = name
		if e := changes[name].err; e != nil {
			res.ErrorCode = e.code
			if e.msg != "" {
				res.ErrorMessage = errMessage(e.msg)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

// checkScramDeletions fails the users asking to delete a credential they
// do not have.
func (b *Broker) checkScramDeletions(ctx context.Context, cluster string, order []string, changes map[string]*scramUserChange) error {
	var names []string
	for _, name := range order {
		if u := changes[name]; u.err == nil && len(u.deletions) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	existing, err := b.cfg.Scram.ScramCredentials(ctx, cluster, names)
	if err != nil {
		return err
	}
	for _, name := range names {
		u := changes[name]
		for _, m := range u.deletions {
			has := false
			for _, c := range existing[name] {
				has = has || c.Mechanism == m
			}
			if !has {
				u.fail(kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist")
			}
		}
	}
	return nil
}
