package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// metaPtr is a pointer to a resource type that embeds resource.Meta.
type metaPtr[T any] interface {
	*T
	Metadata() *resource.Meta
}

// table describes how one resource type is stored: its table, its own
// columns (after the common id, org_id, etag, create_time, update_time) and
// hooks that keep related rows consistent inside the same transaction.
type table[T any, P metaPtr[T]] struct {
	name string
	// orgCol is the column holding the organization: org_id, or id for
	// the organizations table itself.
	orgCol string
	// parentCol scopes lists below the organization (environment_id for
	// clusters, …); empty when lists are organization-wide.
	parentCol string
	cols      []string
	// fields returns pointers to v's own fields, in cols order.
	fields func(v P) []any

	afterInsert  func(ctx context.Context, tx *sql.Tx, s *Store, v P) error
	afterUpdate  func(ctx context.Context, tx *sql.Tx, s *Store, v P) error
	beforeDelete func(ctx context.Context, tx *sql.Tx, s *Store, v P) error
}

func (t *table[T, P]) allCols() []string {
	common := []string{"id", "etag", "create_time", "update_time"}
	if t.orgCol == "org_id" {
		common = append(common, "org_id")
	}
	return append(common, t.cols...)
}

func (t *table[T, P]) pointers(v P) []any {
	m := v.Metadata()
	ptrs := []any{&m.ID, &m.Etag, timeCol{&m.CreateTime}, timeCol{&m.UpdateTime}}
	if t.orgCol == "org_id" {
		ptrs = append(ptrs, &m.OrgID)
	}
	return append(ptrs, t.fields(v)...)
}

func (t *table[T, P]) selectSQL() string {
	return "SELECT " + strings.Join(t.allCols(), ", ") + " FROM " + t.name
}

func (t *table[T, P]) scan(row interface{ Scan(...any) error }) (T, error) {
	var v T
	err := row.Scan(t.pointers(&v)...)
	if t.orgCol == "id" {
		P(&v).Metadata().OrgID = P(&v).Metadata().ID
	}
	return v, err
}

func (t *table[T, P]) insert(ctx context.Context, tx *sql.Tx, s *Store, v P) error {
	cols := t.allCols()
	q := "INSERT INTO " + t.name + " (" + strings.Join(cols, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	if _, err := tx.ExecContext(ctx, s.dialect.rebind(q), values(t.pointers(v))...); err != nil {
		return s.classify(fmt.Errorf("insert into %s: %w", t.name, err))
	}
	if t.afterInsert != nil {
		return t.afterInsert(ctx, tx, s, v)
	}
	return nil
}

func (t *table[T, P]) get(ctx context.Context, q querier, s *Store, org, id string) (T, error) {
	query := t.selectSQL() + " WHERE id = ? AND " + t.orgCol + " = ?"
	v, err := t.scan(q.QueryRowContext(ctx, s.dialect.rebind(query), id, org))
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("read %s %s: %w", t.name, id, err)
	}
	return v, nil
}

// values turns the pointers fields returns into query arguments.
func values(ptrs []any) []any {
	out := make([]any, len(ptrs))
	for i, p := range ptrs {
		switch p := p.(type) {
		case *string:
			out[i] = *p
		case *int64:
			out[i] = *p
		case *int32:
			out[i] = int64(*p)
		case driver.Valuer:
			v, err := p.Value()
			if err != nil {
				panic(fmt.Sprintf("store: column value: %v", err)) // only json.Marshal of our own types
			}
			out[i] = v
		default:
			panic(fmt.Sprintf("store: unsupported column type %T", p))
		}
	}
	return out
}

// timeCol stores a time as microseconds since the epoch.
type timeCol struct{ t *time.Time }

func (c timeCol) Value() (driver.Value, error) { return c.t.UnixMicro(), nil }

func (c timeCol) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column: got %T", src)
	}
	*c.t = time.UnixMicro(n).UTC()
	return nil
}

// boolCol stores a bool as 0 or 1 (the same type in both engines).
type boolCol struct{ b *bool }

func (c boolCol) Value() (driver.Value, error) {
	if *c.b {
		return int64(1), nil
	}
	return int64(0), nil
}

func (c boolCol) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("bool column: got %T", src)
	}
	*c.b = n != 0
	return nil
}

// jsonCol stores a value as JSON text.
type jsonCol struct{ v any }

func (c jsonCol) Value() (driver.Value, error) {
	b, err := json.Marshal(c.v)
	return string(b), err
}

func (c jsonCol) Scan(src any) error {
	switch src := src.(type) {
	case string:
		return json.Unmarshal([]byte(src), c.v)
	case []byte:
		return json.Unmarshal(src, c.v)
	}
	return fmt.Errorf("json column: got %T", src)
}

// RequestKey makes a create idempotent: a second create with the same
// method and request id returns the first one's resource, provided the
// request is the same (same fingerprint).
type RequestKey struct {
	Method      string
	RequestID   string
	Fingerprint string
}

// Filter restricts a list to rows whose column equals Value, or with
// Prefix, starts with it. Columns are those of the API's filter fields.
type Filter struct {
	Column string
	Value  string
	Prefix bool
}

// Eq is the filter column = value.
func Eq(column, value string) Filter { return Filter{Column: column, Value: value} }

// HasPrefix is the filter column starts with prefix.
func HasPrefix(column, prefix string) Filter {
	return Filter{Column: column, Value: prefix, Prefix: true}
}

// Query selects a page of a collection.
type Query struct {
	// Parent is the id of the parent when the collection is nested
	// (environment of clusters, provider of pools, …).
	Parent    string
	Filters   []Filter
	PageSize  int
	PageToken string
}

// ErrBadPageToken reports a page token this store did not make.
var ErrBadPageToken = errors.New("invalid page token")

func encodeToken(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "|" + id))
}

func decodeToken(tok string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, "", ErrBadPageToken
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", ErrBadPageToken
	}
	return n, id, nil
}

// Collection is the stored set of one resource type.
type Collection[T any, P metaPtr[T]] struct {
	s *Store
	t *table[T, P]
}

// Create stores v, giving it an etag and creation time (its ID is the
// caller's). With a request key already used for the same request, it
// returns the resource that request created instead.
func (c Collection[T, P]) Create(ctx context.Context, v T, key RequestKey) (T, error) {
	created, err := c.create(ctx, v, key)
	if errors.Is(err, ErrAlreadyExists) && key.RequestID != "" {
		// A concurrent create with the same request id may have won.
		created, err = c.create(ctx, v, key)
	}
	return created, err
}

func (c Collection[T, P]) create(ctx context.Context, v T, key RequestKey) (T, error) {
	s := c.s
	m := P(&v).Metadata()
	now := s.nowMicro()
	m.CreateTime, m.UpdateTime, m.Etag = now, now, newEtag()
	var out T
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if key.RequestID != "" {
			var fingerprint, existing string
			err := tx.QueryRowContext(ctx, s.dialect.rebind(
				"SELECT fingerprint, resource_id FROM request_ids WHERE org_id = ? AND method = ? AND request_id = ?"),
				m.OrgID, key.Method, key.RequestID).Scan(&fingerprint, &existing)
			switch {
			case err == nil:
				if fingerprint != key.Fingerprint {
					return ErrRequestIDReused
				}
				out, err = c.t.get(ctx, tx, s, m.OrgID, existing)
				return err
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("read request id: %w", err)
			}
			// Claim the request id first: a concurrent twin blocks here.
			if _, err := tx.ExecContext(ctx, s.dialect.rebind(
				"INSERT INTO request_ids (org_id, method, request_id, fingerprint, resource_id, create_time) VALUES (?, ?, ?, ?, ?, ?)"),
				m.OrgID, key.Method, key.RequestID, key.Fingerprint, m.ID, now.UnixMicro()); err != nil {
				return s.classify(fmt.Errorf("record request id: %w", err))
			}
		}
		if err := c.t.insert(ctx, tx, s, &v); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}

// Get reads one resource of the organization.
func (c Collection[T, P]) Get(ctx context.Context, org, id string) (T, error) {
	return c.t.get(ctx, c.s.db, c.s, org, id)
}

// List reads one page, oldest first, and the token of the next page ("" on
// the last).
func (c Collection[T, P]) List(ctx context.Context, org string, q Query) ([]T, string, error) {
	s := c.s
	where := []string{c.t.orgCol + " = ?"}
	args := []any{org}
	if c.t.parentCol != "" {
		where = append(where, c.t.parentCol+" = ?")
		args = append(args, q.Parent)
	}
	for _, f := range q.Filters {
		if !c.t.hasColumn(f.Column) {
			return nil, "", fmt.Errorf("list %s: no column %q", c.t.name, f.Column)
		}
		if f.Prefix {
			where = append(where, fmt.Sprintf("substr(%s, 1, %d) = ?", f.Column, utf8.RuneCountInString(f.Value)))
		} else {
			where = append(where, f.Column+" = ?")
		}
		args = append(args, f.Value)
	}
	if q.PageToken != "" {
		ts, id, err := decodeToken(q.PageToken)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(create_time > ? OR (create_time = ? AND id > ?))")
		args = append(args, ts, ts, id)
	}
	size := q.PageSize
	if size <= 0 {
		size = 50
	}
	query := c.t.selectSQL() + " WHERE " + strings.Join(where, " AND ") +
		" ORDER BY create_time, id LIMIT " + strconv.Itoa(size+1)
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(query), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", c.t.name, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := c.t.scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list %s: %w", c.t.name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list %s: %w", c.t.name, err)
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		last := P(&out[size-1]).Metadata()
		next = encodeToken(last.CreateTime, last.ID)
	}
	return out, next, nil
}

// ListAll reads every matching resource (for small sets: a principal's
// role bindings, a cluster's quotas).
func (c Collection[T, P]) ListAll(ctx context.Context, org string, q Query) ([]T, error) {
	var all []T
	q.PageSize = 1000
	for {
		page, next, err := c.List(ctx, org, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		q.PageToken = next
	}
}

func (t *table[T, P]) hasColumn(col string) bool {
	for _, c := range t.allCols() {
		if c == col {
			return true
		}
	}
	return false
}

// Update writes v if its stored etag is still prevEtag, giving it a new
// etag and update time.
func (c Collection[T, P]) Update(ctx context.Context, v T, prevEtag string) (T, error) {
	err := c.s.tx(ctx, func(tx *sql.Tx) error { return c.update(ctx, tx, &v, prevEtag) })
	return v, err
}

func (c Collection[T, P]) update(ctx context.Context, tx *sql.Tx, v P, prevEtag string) error {
	s := c.s
	m := v.Metadata()
	m.UpdateTime, m.Etag = s.nowMicro(), newEtag()
	cols := c.t.allCols()
	sets := make([]string, 0, len(cols))
	for _, col := range cols {
		if col != "id" && col != "org_id" && col != "create_time" {
			sets = append(sets, col+" = ?")
		}
	}
	all := values(c.t.pointers(v))
	args := make([]any, 0, len(all)+3)
	for i, col := range cols {
		if col != "id" && col != "org_id" && col != "create_time" {
			args = append(args, all[i])
		}
	}
	args = append(args, m.ID, m.OrgID, prevEtag)
	q := "UPDATE " + c.t.name + " SET " + strings.Join(sets, ", ") + " WHERE id = ? AND " + c.t.orgCol + " = ? AND etag = ?"
	res, err := tx.ExecContext(ctx, s.dialect.rebind(q), args...)
	if err != nil {
		return s.classify(fmt.Errorf("update %s %s: %w", c.t.name, m.ID, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := c.t.get(ctx, tx, s, m.OrgID, m.ID); err != nil {
			return err
		}
		return ErrEtagMismatch
	}
	if c.t.afterUpdate != nil {
		return c.t.afterUpdate(ctx, tx, s, v)
	}
	return nil
}

// Delete removes a resource; a non-empty etag must match the stored one.
func (c Collection[T, P]) Delete(ctx context.Context, org, id, etag string) error {
	s := c.s
	return s.tx(ctx, func(tx *sql.Tx) error {
		v, err := c.t.get(ctx, tx, s, org, id)
		if err != nil {
			return err
		}
		if etag != "" && P(&v).Metadata().Etag != etag {
			return ErrEtagMismatch
		}
		if c.t.beforeDelete != nil {
			if err := c.t.beforeDelete(ctx, tx, s, &v); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.dialect.rebind("DELETE FROM "+c.t.name+" WHERE id = ?"), id); err != nil {
			return s.classify(fmt.Errorf("delete %s %s: %w", c.t.name, id, err))
		}
		return nil
	})
}

// exec runs a statement with ? placeholders.
func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	res, err := q.ExecContext(ctx, s.dialect.rebind(query), args...)
	return res, s.classify(err)
}

// count runs a SELECT COUNT(*) with ? placeholders.
func (s *Store) count(ctx context.Context, q querier, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, s.dialect.rebind(query), args...).Scan(&n)
	return n, err
}
