package groups

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// What reaches the Store, and when: as Kafka writes its group metadata log,
// a group is saved when a generation's assignment is complete (the
// leader's SyncGroup; the group is Stable only once that save succeeded),
// when a rebalance leaves it Empty, when a static member is replaced
// without a rebalance, and when an offset commit creates it. Unlike Kafka,
// a rebalance of a group that has a generation is saved too when it begins
// and when a member leaves during it, with the deadline of its join phase:
// coordinators move whenever brokers come and go, and a coordinator taking
// over must neither bring back members that left nor restart the
// rebalance's clock (see resumeRebalance). Saves are
// taken as snapshots under g.mu and numbered; saveSlot lets one write of
// the group run at a time, and a snapshot older than one already written
// is dropped, so the Store never goes back in time.

type queuedSave struct {
	record GroupRecord
	seq    uint64
}

// snapshot records the group's durable state, with assignments replacing
// the members' own when given. It numbers the snapshot for save.
func (g *group) snapshot(assignments map[string][]byte) (GroupRecord, uint64) {
	rec := GroupRecord{
		Name:         g.name,
		ProtocolType: g.protocolType,
		Protocol:     g.protocol,
		Generation:   g.generation,
		Leader:       g.leader,
		State:        stateEmpty.String(),
	}
	if len(g.members) > 0 {
		rec.State = stateStable.String()
		if g.state == statePreparingRebalance && g.protocol != "" {
			rec.State = statePreparingRebalance.String()
			rec.RebalanceDeadlineMs = g.rebalanceDeadline.UnixMilli()
		}
	}
	for _, m := range g.sortedMembers() {
		assignment := m.assignment
		if assignments != nil {
			assignment = assignments[m.id]
		}
		rec.Members = append(rec.Members, MemberRecord{
			MemberID:           m.id,
			GroupInstanceID:    m.instanceID,
			ClientID:           m.clientID,
			ClientHost:         m.clientHost,
			SessionTimeoutMs:   int32(m.sessionTimeout.Milliseconds()),
			RebalanceTimeoutMs: int32(m.rebalanceTimeout.Milliseconds()),
			Metadata:           m.metadataFor(g.protocol),
			Assignment:         assignment,
		})
	}
	if g.consumer != nil {
		rec.Consumer = g.consumer.record()
		rec.State = g.consumer.stateName()
		rec.Generation = g.consumer.epoch
	}
	g.lastSaveSeq++
	return rec, g.lastSaveSeq
}

// queueSave snapshots the group to be saved when mu is released (unlock).
// Failures are logged: the group goes on, as Kafka's does.
func (g *group) queueSave(assignments map[string][]byte) {
	rec, seq := g.snapshot(assignments)
	g.queuedSave = &queuedSave{record: rec, seq: seq}
}

// save writes a snapshot unless a newer one was written already, over the
// record's version this coordinator knows. It must be called without g.mu
// held. A save refused because another coordinator wrote the group since
// (ErrGroupFenced) lets go of the cluster's groups: see fenced.
func (g *group) save(ctx context.Context, rec GroupRecord, seq uint64) error {
	release, err := g.acquireSaveSlot(ctx)
	if err != nil {
		return err
	}
	g.mu.Lock()
	stale := seq <= g.savedSeq
	rec.Version = g.storeVersion
	g.mu.Unlock()
	if stale {
		release()
		return nil
	}
	if err := g.c.store.SaveGroup(ctx, g.cluster.name, rec); err != nil {
		release()
		if errors.Is(err, ErrGroupFenced) {
			g.fenced()
		}
		return fmt.Errorf("save group %s/%s generation %d: %w", g.cluster.name, g.name, rec.Generation, err)
	}
	g.mu.Lock()
	g.savedSeq = max(g.savedSeq, seq)
	g.storeVersion = rec.Version + 1
	g.mu.Unlock()
	release()
	return nil
}

// commitOffsets writes offsets of the group over the record's version this
// coordinator knows, so that a deposed coordinator, whose members and
// generations are stale, cannot move offsets its successor's members
// committed back. It must be called without g.mu held.
func (g *group) commitOffsets(ctx context.Context, offsets []CommittedOffset) error {
	release, err := g.acquireSaveSlot(ctx)
	if err != nil {
		return err
	}
	g.mu.Lock()
	version := g.storeVersion
	g.mu.Unlock()
	err = g.c.store.CommitOffsetsAt(ctx, g.cluster.name, g.name, version, offsets)
	release()
	if errors.Is(err, ErrGroupFenced) {
		g.fenced()
	}
	return err
}

// fenced handles a write the Store refused because another coordinator
// wrote the group since this one read it: this broker is not (or is no
// longer) its coordinator, whatever its view of the cell says, or it held
// an outdated copy. The group is dropped without writing, waiting requests
// are answered NOT_COORDINATOR, and the next request reads it afresh from
// the Store (refresh), at the latest state; the cluster's other groups go
// on. It must be called without g.mu held.
func (g *group) fenced() {
	g.log.Warn("group written by another coordinator; reading it again")
	cl := g.cluster
	cl.mu.Lock()
	if cl.groups[g.name] == g {
		delete(cl.groups, g.name)
	}
	// A refresh under way may have read the record before that write.
	cl.stale = true
	cl.changes++
	cl.mu.Unlock()
	g.mu.Lock()
	if !g.unavailable() {
		g.markDead(kerr.NotCoordinator.Code)
	}
	g.unlock()
}

func (g *group) acquireSaveSlot(ctx context.Context) (release func(), err error) {
	select {
	case g.saveSlot <- struct{}{}:
		return func() { <-g.saveSlot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-g.c.done:
		return nil, errClosed
	}
}

// restoreGroup rebuilds a group from its record, as Kafka loads a group from
// its log: Stable when it has members, else Empty. Its members' sessions
// start with the first request for the group (activate). Records are
// checked, since the Store is outside our control.
func (c *Coordinator) restoreGroup(cl *clusterGroups, rec GroupRecord) *group {
	g := newGroup(c, cl, rec.Name)
	g.mu.Lock()
	defer g.unlock()
	g.active = false // sessions start on the first request: see activate
	g.protocolType = rec.ProtocolType
	g.protocol = rec.Protocol
	g.generation = max(rec.Generation, 0)
	if rec.Protocol != "" {
		for _, mr := range rec.Members {
			if mr.MemberID == "" || g.members[mr.MemberID] != nil {
				continue
			}
			session := msDuration(mr.SessionTimeoutMs)
			if session <= 0 {
				session = c.opts.MinSessionTimeout
			}
			rebalance := msDuration(mr.RebalanceTimeoutMs)
			if rebalance <= 0 {
				rebalance = session
			}
			m := &member{
				id:               mr.MemberID,
				instanceID:       mr.GroupInstanceID,
				clientID:         mr.ClientID,
				clientHost:       mr.ClientHost,
				protocolType:     rec.ProtocolType,
				protocols:        []protocolMetadata{{name: rec.Protocol, metadata: mr.Metadata}},
				sessionTimeout:   session,
				rebalanceTimeout: rebalance,
				assignment:       mr.Assignment,
			}
			g.members[m.id] = m
			if m.instanceID != "" {
				g.staticMembers[m.instanceID] = m.id
			}
		}
	}
	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
	} else {
		g.leader = rec.Leader
		if g.members[g.leader] == nil {
			g.leader = g.electLeader()
		}
		g.state = stateStable
		if rec.State == statePreparingRebalance.String() && rec.RebalanceDeadlineMs > 0 {
			g.resumeRebalanceBy = time.UnixMilli(rec.RebalanceDeadlineMs)
		}
	}
	g.subscribedTopics = g.computeSubscribedTopics()
	if rec.Consumer != nil {
		g.consumer = restoreConsumerGroup(rec.Consumer, c.opts.ConsumerSessionTimeout)
		g.protocolType = consumerGroupType
		g.protocol, g.leader = "", ""
		g.members = make(map[string]*member)
		g.staticMembers = make(map[string]string)
		g.state = stateEmpty
		g.subscribedTopics = nil
		g.syncConsumerState()
	}
	g.lastSaveSeq, g.savedSeq = 1, 1
	g.storeVersion = rec.Version
	return g
}

// deleteEmpty deletes an Empty group and its offsets from the Store, then
// marks it Dead (DeleteGroups, and retention of groups without offsets).
// It returns a Kafka error code.
func (g *group) deleteEmpty(ctx context.Context) int16 {
	g.mu.Lock()
	switch {
	case g.unavailable():
		g.unlock()
		return kerr.GroupIDNotFound.Code
	case g.state != stateEmpty:
		g.unlock()
		return kerr.NonEmptyGroup.Code
	}
	// While deleting, requests are answered COORDINATOR_NOT_AVAILABLE, so
	// nobody joins a group whose record is being removed.
	g.deleting = true
	g.unlock()

	release, err := g.acquireSaveSlot(ctx)
	if err == nil {
		g.mu.Lock()
		version := g.storeVersion
		g.mu.Unlock()
		if version > 0 {
			// Only over the record this coordinator knows: a deposed
			// one must not delete a group its successor revived.
			err = g.c.store.DeleteGroupAt(ctx, g.cluster.name, g.name, version)
		} else {
			err = g.c.deleteGroupData(ctx, g.cluster.name, g.name)
		}
		release()
	}
	g.mu.Lock()
	g.deleting = false
	if errors.Is(err, ErrGroupFenced) {
		g.unlock()
		g.log.Warn("delete group", "err", err)
		g.fenced()
		return kerr.NotCoordinator.Code
	}
	if err != nil {
		g.unlock()
		g.log.Warn("delete group", "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	g.markDead(kerr.CoordinatorNotAvailable.Code)
	g.unlock()
	g.cluster.forget(g.name, g)
	g.log.Info("group deleted")
	return 0
}

// deleteGroupData removes a group's offsets, then its record, so that an
// interrupted deletion leaves a group that can be deleted again.
func (c *Coordinator) deleteGroupData(ctx context.Context, cluster, name string) error {
	offsets, err := c.store.FetchOffsets(ctx, cluster, name, nil)
	if err != nil {
		return fmt.Errorf("fetch offsets of %s/%s: %w", cluster, name, err)
	}
	byTopic := make(map[string][]int32)
	for _, o := range offsets {
		byTopic[o.Topic] = append(byTopic[o.Topic], o.Partition)
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		if err := c.store.DeleteOffsets(ctx, cluster, name, topic, byTopic[topic]); err != nil {
			return fmt.Errorf("delete offsets of %s/%s topic %s: %w", cluster, name, topic, err)
		}
	}
	if err := c.store.DeleteGroup(ctx, cluster, name); err != nil {
		return fmt.Errorf("delete group %s/%s: %w", cluster, name, err)
	}
	return nil
}

// DeleteCluster drops every group and committed offset of a cluster, for a
// cluster being deleted. Requests still arriving for it find no groups.
func (c *Coordinator) DeleteCluster(ctx context.Context, cluster string) error {
	if !c.enter() {
		return errClosed
	}
	defer c.leave()
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return fmt.Errorf("load groups of cluster %s: %w", cluster, kerr.ErrorForCode(code))
	}
	cl.mu.Lock()
	cl.deleted = true
	cl.mu.Unlock()

	var errs []error
	for _, g := range cl.snapshot() {
		release, err := g.acquireSaveSlot(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.mu.Lock()
		if !g.unavailable() {
			g.markDead(kerr.CoordinatorNotAvailable.Code)
		}
		g.unlock()
		if err := c.deleteGroupData(ctx, cluster, g.name); err != nil {
			errs = append(errs, err)
		}
		release()
		cl.forget(g.name, g)
	}

	c.mu.Lock()
	if c.clusters[cluster] == cl {
		delete(c.clusters, cluster)
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

// Release forgets a cluster's groups without writing to the Store, for when
// this broker stops (or starts) coordinating some of them: waiting requests
// are answered NOT_COORDINATOR, timers stop, and the next request loads the
// groups afresh from the Store.
func (c *Coordinator) Release(cluster string) {
	c.mu.Lock()
	cl := c.clusters[cluster]
	delete(c.clusters, cluster)
	c.mu.Unlock()
	if cl != nil {
		cl.release()
	}
}

// ReleaseAll releases every cluster, for when the set of live brokers (and
// so the placement of coordinators) changes.
func (c *Coordinator) ReleaseAll() {
	c.mu.Lock()
	clusters := c.clusters
	c.clusters = make(map[string]*clusterGroups)
	c.mu.Unlock()
	for _, cl := range clusters {
		cl.release()
	}
}

// PlacementChanged follows a change of which groups this broker
// coordinates, without disturbing the groups that stay here. kept reports
// the groups this broker coordinated before the change and still does;
// every other group in memory is let go (its waiting requests answered
// NOT_COORDINATOR), so that one coming back later is read afresh from the
// Store. mayGain says the change may have given this broker groups it did
// not coordinate: the next request for the cluster then reads the Store
// for groups not in memory (see refresh).
//
// Letting go only of what moved matters when brokers come and go often: a
// group whose coordinator stayed keeps its rebalance going and its
// members' sessions running, where reloading it would restart both.
func (c *Coordinator) PlacementChanged(kept func(cluster, group string) bool, mayGain bool) {
	for _, cl := range c.clusterList() {
		var moved []*group
		cl.mu.Lock()
		cl.changes++
		if mayGain {
			cl.stale = true
		}
		for name, g := range cl.groups {
			if !kept(cl.name, name) {
				delete(cl.groups, name)
				moved = append(moved, g)
			}
		}
		cl.mu.Unlock()
		for _, g := range moved {
			g.mu.Lock()
			if !g.unavailable() {
				g.markDead(kerr.NotCoordinator.Code)
			}
			g.unlock()
		}
	}
}

func (cl *clusterGroups) release() {
	for _, g := range cl.snapshot() {
		g.mu.Lock()
		if !g.unavailable() {
			g.markDead(kerr.NotCoordinator.Code)
		}
		g.unlock()
	}
}
