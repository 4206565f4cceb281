package broker

// Routing among the brokers of a cell (Config.Membership). Leadership is
// only routing: every broker reads and writes the same storage. Each
// partition is led by the broker that rendezvous hashing of (cluster,
// topic, partition) names among the live brokers, at the leader epoch of
// the membership generation, so epochs never go down; groups (and
// transactional ids) are coordinated by the broker the same hashing names.
//
// Produce and Fetch for a partition another broker leads are answered
// NOT_LEADER_OR_FOLLOWER. Accepting them would be safe — offsets and
// idempotent sequences are decided in one metadata-DB transaction, so two
// brokers writing one partition never corrupt it — but refusing is what
// moves clients: the error makes a Kafka client refresh its metadata at
// once, so after a membership change every producer and consumer of a
// partition converges on its new leader within a metadata round trip
// instead of at its next periodic refresh (five minutes by default). One
// broker then writes each partition, keeping one producer's batches in
// order through one commit pipeline, and serves its tail from memory with
// in-process wake-ups, where a broker that is not writing must poll the
// DB. The brokers' views may disagree for up to one heartbeat interval
// after a change; a client sent back and forth meanwhile retries, and
// nothing it wrote is lost or doubled (idempotent sequences are checked in
// the DB wherever the batch lands).
//
// A broker that is not in its own view (its lease lapsed) leads nothing
// and refuses every partition until it has registered again.

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/membership"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// view is the cell as this broker routes by: Config.Membership's view, or
// this broker alone.
func (b *Broker) view() membership.View {
	if b.cfg.Membership == nil {
		return membership.Single(membership.Broker{NodeID: b.cfg.NodeID})
	}
	return b.cfg.Membership.View()
}

// listedBrokers are the brokers responses name: the live ones, and this
// broker even when its lease lapsed, since the client is talking to it.
func (b *Broker) listedBrokers(v membership.View) []membership.Broker {
	if _, ok := v.Broker(b.cfg.NodeID); ok {
		return v.Brokers
	}
	out := make([]membership.Broker, 0, len(v.Brokers)+1)
	self := membership.Broker{NodeID: b.cfg.NodeID}
	placed := false
	for _, mb := range v.Brokers {
		if !placed && mb.NodeID > self.NodeID {
			out, placed = append(out, self), true
		}
		out = append(out, mb)
	}
	if !placed {
		out = append(out, self)
	}
	return out
}

// endpointOf is where the client of r reaches mb: this broker at the
// address of the listener r came through (as a single broker always
// answered), another at the address it registered for the listener of
// that name, so that a client on TLS is sent to TLS listeners.
func (b *Broker) endpointOf(r *request, mb membership.Broker) (host string, port int32) {
	if mb.NodeID == b.cfg.NodeID || mb.Host == "" {
		ep := r.conn.advertised()
		return ep.host, ep.port
	}
	return mb.Endpoint(r.conn.lis.name())
}

// leaderOf is the node id leading a partition in v. When v has no broker
// at all it is this broker alone, or -1 (none) for a broker of a cell
// whose lease lapsed, whose view then holds no other broker either.
func (b *Broker) leaderOf(v membership.View, cluster, topic string, partition int32) int32 {
	if l, ok := v.Leader(cluster, topic, partition); ok {
		return l.NodeID
	}
	if b.cfg.Membership != nil {
		return -1
	}
	return b.cfg.NodeID
}

// leads reports whether this broker leads tp, so may serve its Produce and
// Fetch (see the comment at the top).
func (b *Broker) leads(tp storage.TopicPartition) bool {
	if b.cfg.Membership == nil {
		return true
	}
	return b.leaderOf(b.view(), tp.Cluster, tp.Topic, tp.Partition) == b.cfg.NodeID
}

// coordinatorOf is the broker coordinating a key of a coordinator type in
// v. When v has no broker at all it is this broker alone, or none (false)
// for a broker of a cell whose lease lapsed.
func (b *Broker) coordinatorOf(v membership.View, cluster string, keyType int8, key string) (membership.Broker, bool) {
	if c, ok := v.Coordinator(cluster, keyType, key); ok {
		return c, true
	}
	return membership.Broker{NodeID: b.cfg.NodeID}, b.cfg.Membership == nil
}

// leaderEpochError checks a client's current leader epoch (-1: unchecked)
// against ours, the membership generation (0 for a broker alone): a
// greater one means the client knows a newer view than we do yet
// (UNKNOWN_LEADER_EPOCH, retried), a smaller one that its metadata is stale
// (FENCED_LEADER_EPOCH, which makes it refresh).
func (b *Broker) leaderEpochError(current int32) int16 {
	if current < 0 {
		return 0
	}
	switch epoch := b.view().Epoch(); {
	case current > epoch:
		return kerr.UnknownLeaderEpoch.Code
	case current < epoch:
		return kerr.FencedLeaderEpoch.Code
	}
	return 0
}
