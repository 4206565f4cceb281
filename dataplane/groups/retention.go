package groups

// Offset retention, as Kafka's offsets.retention.minutes: every
// OffsetsRetentionCheckInterval, for each group of the loaded clusters:
//   - a group without members, once Empty for OffsetsRetention, loses all
//     its offsets (a group only storing offsets: each offset once that old);
//   - a Stable consumer group loses the offsets of topics it no longer
//     subscribes to, once they are that old;
//   - an Empty group left without offsets is deleted.

import (
	"maps"
	"slices"
	"time"
)

func (c *Coordinator) runRetention() {
	defer c.running.Done()
	for {
		tick := make(chan struct{})
		stop := c.clock.afterFunc(c.opts.OffsetsRetentionCheckInterval, func() { close(tick) })
		select {
		case <-c.done:
			stop()
			return
		case <-tick:
		}
		c.expireOffsets()
	}
}

// expireOffsets runs one retention pass.
func (c *Coordinator) expireOffsets() {
	for _, cl := range c.clusterList() {
		select {
		case <-cl.ready:
		default:
			continue // still loading
		}
		for _, g := range cl.snapshot() {
			select {
			case <-c.done:
				return
			default:
			}
			if c.coordinates(cl.name, g.name) {
				c.expireGroupOffsets(g)
			}
		}
	}
}

func (c *Coordinator) expireGroupOffsets(g *group) {
	retention := c.opts.OffsetsRetention
	now := c.clock.now()
	olderThanRetention := func(o CommittedOffset) bool {
		return now.Sub(time.UnixMilli(o.CommitTime)) >= retention
	}

	g.mu.Lock()
	if g.unavailable() || !g.active {
		// A passive copy may belong to another broker's coordinator.
		g.unlock()
		return
	}
	state, protocolType, emptySince := g.state, g.protocolType, g.stateSince
	subscribed := maps.Clone(g.subscribedTopics)
	pendingMembers := len(g.pendingMembers)
	g.unlock()

	var expired func(CommittedOffset) bool
	switch {
	case state == stateEmpty && protocolType != "":
		all := now.Sub(emptySince) >= retention
		expired = func(CommittedOffset) bool { return all }
	case state == stateEmpty:
		expired = olderThanRetention
	case state == stateStable && protocolType == consumerProtocolType && subscribed != nil:
		expired = func(o CommittedOffset) bool { return !subscribed[o.Topic] && olderThanRetention(o) }
	default:
		return
	}

	ctx, cancel := c.storeContext()
	defer cancel()
	offsets, err := c.store.FetchOffsets(ctx, g.cluster.name, g.name, nil)
	if err != nil {
		g.log.Warn("retention: fetch offsets", "err", err)
		return
	}
	byTopic := make(map[string][]int32)
	remaining := 0
	for _, o := range offsets {
		if expired(o) {
			byTopic[o.Topic] = append(byTopic[o.Topic], o.Partition)
		} else {
			remaining++
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		if err := c.store.DeleteOffsets(ctx, g.cluster.name, g.name, topic, byTopic[topic]); err != nil {
			g.log.Warn("retention: delete offsets", "topic", topic, "err", err)
			return
		}
		g.log.Info("retention: expired offsets", "topic", topic, "partitions", len(byTopic[topic]))
	}
	if state == stateEmpty && remaining == 0 && pendingMembers == 0 {
		g.deleteEmpty(ctx)
	}
}
