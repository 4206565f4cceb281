package groups

import "github.com/affluent-io/affluent/dataplane/membership"

// FollowPlacement keeps c in step with the live brokers of a cell: on each
// change of live's view, the groups whose coordinator moved to or from
// this broker are let go of, and the others go on (PlacementChanged).
func FollowPlacement(c *Coordinator, live *membership.Live) {
	self := live.Self()
	live.OnChange(func(old, cur membership.View) {
		c.PlacementChanged(func(cluster, group string) bool {
			return membership.Kept(self, old, cur, cluster, membership.CoordinatorGroup, group)
		}, membership.MayGain(self, old, cur))
	})
}
