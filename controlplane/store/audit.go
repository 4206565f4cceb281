package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
)

const auditCols = "id, org_id, event_time, principal, action, resource, outcome, request_id, source_address, method, message"

// AppendAuditEvent adds one event to the audit log.
func (s *Store) AppendAuditEvent(ctx context.Context, e resource.AuditEvent) error {
	_, err := s.exec(ctx, s.db, "INSERT INTO audit_events ("+auditCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		e.ID, e.OrgID, e.Time.UnixMicro(), e.Principal, e.Action, e.Resource, e.Outcome, e.RequestID,
		e.SourceAddress, e.Method, e.Message)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// AuditQuery selects audit events; zero fields do not filter.
type AuditQuery struct {
	Principal string
	Action    string
	Outcome   string
	Start     time.Time
	End       time.Time
	PageSize  int
	PageToken string
}

// ListAuditEvents lists an organization's events, newest first.
func (s *Store) ListAuditEvents(ctx context.Context, org string, q AuditQuery) ([]resource.AuditEvent, string, error) {
	where := []string{"org_id = ?"}
	args := []any{org}
	for _, f := range []struct{ col, v string }{{"principal", q.Principal}, {"action", q.Action}, {"outcome", q.Outcome}} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if !q.Start.IsZero() {
		where = append(where, "event_time >= ?")
		args = append(args, q.Start.UnixMicro())
	}
	if !q.End.IsZero() {
		where = append(where, "event_time < ?")
		args = append(args, q.End.UnixMicro())
	}
	if q.PageToken != "" {
		ts, id, err := decodeToken(q.PageToken)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(event_time < ? OR (event_time = ? AND id < ?))")
		args = append(args, ts, ts, id)
	}
	size := q.PageSize
	if size <= 0 {
		size = 50
	}
	query := "SELECT " + auditCols + " FROM audit_events WHERE " + strings.Join(where, " AND ") +
		" ORDER BY event_time DESC, id DESC LIMIT " + strconv.Itoa(size+1)
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(query), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []resource.AuditEvent
	for rows.Next() {
		var e resource.AuditEvent
		if err := rows.Scan(&e.ID, &e.OrgID, timeCol{&e.Time}, &e.Principal, &e.Action, &e.Resource, &e.Outcome,
			&e.RequestID, &e.SourceAddress, &e.Method, &e.Message); err != nil {
			return nil, "", fmt.Errorf("list audit events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		next = encodeToken(out[size-1].Time, out[size-1].ID)
	}
	return out, next, nil
}
