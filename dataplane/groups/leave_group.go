package groups

// LeaveGroup (key 13), v0-v5: one member by id before v3, a batch of
// members by member id or group.instance.id from v3 (KIP-345 lets an admin
// remove static members by instance id alone). Classic members of a
// consumer group leave it the same way (see consumer_migration.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup removes members from a group, which then rebalances.
func (c *Coordinator) LeaveGroup(ctx context.Context, cluster string, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	resp.Version = req.Version

	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	var memberCodes []int16
	if !c.coordinates(cluster, req.Group) {
		resp.ErrorCode = kerr.NotCoordinator.Code
	} else if c.enter() {
		resp.ErrorCode, memberCodes = c.leaveGroup(ctx, cluster, req.Group, leaving)
		c.leave()
	} else {
		resp.ErrorCode = kerr.NotCoordinator.Code
	}

	if req.Version < 3 {
		// One member: its error is the response's.
		if resp.ErrorCode == 0 && len(memberCodes) == 1 {
			resp.ErrorCode = memberCodes[0]
		}
		return resp
	}
	for i, code := range memberCodes {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = leaving[i].MemberID
		rm.InstanceID = leaving[i].InstanceID
		rm.ErrorCode = code
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

// leaveGroup returns a group-level error code, or one code per leaving member.
func (c *Coordinator) leaveGroup(ctx context.Context, cluster, groupName string, leaving []kmsg.LeaveGroupRequestMember) (int16, []int16) {
	if groupName == "" {
		return kerr.InvalidGroupID.Code, nil
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return code, nil
	}
	codes := make([]int16, len(leaving))
	g := cl.group(c, groupName)
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}

	g.mu.Lock()
	defer g.unlock()
	if g.unavailable() {
		return kerr.CoordinatorNotAvailable.Code, nil
	}
	g.activate()
	if g.consumer != nil {
		defer g.saveIfDirty()
		for i, lm := range leaving {
			codes[i] = g.classicLeave(lm.MemberID, derefString(lm.InstanceID), derefString(lm.Reason))
		}
		g.maybeDowngrade()
		return 0, codes
	}
	for i, lm := range leaving {
		codes[i] = g.leave(lm.MemberID, derefString(lm.InstanceID), derefString(lm.Reason))
	}
	return 0, codes
}

func (g *group) leave(memberID, instanceID, reason string) int16 {
	if memberID == "" {
		// Removal by group.instance.id alone (an admin's request).
		current, ok := g.staticMembers[instanceID]
		if instanceID == "" || !ok {
			return kerr.UnknownMemberID.Code
		}
		memberID = current
	} else if g.pendingMembers[memberID] != nil {
		g.removePendingMember(memberID)
		return 0
	} else if code := g.validateCurrentMember(memberID, instanceID); code != 0 {
		return code
	}
	g.log.Info("member left", "member", memberID, "instance", instanceID, "reason", reason)
	g.removeMemberAndUpdate(g.members[memberID])
	return 0
}
