package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// direct runs the writer's two most frequent statements — the insert of a
// message and the save of a room's last seq — on modernc's driver
// connection itself instead of through database/sql. Through database/sql
// each insert took the statement's and the connection's locks, looked the
// statement up for the transaction, converted its arguments, started a
// goroutine to watch the context (modernc's interruptOnDone), and built
// and closed a Rows to scan the id from a RETURNING clause: about half of
// the insert's CPU in the profile, the SQL itself the other half. Now the
// insert has no RETURNING: the driver's Result gives the new row's id and
// whether a row was inserted at all (none when the client_id was seen).
//
// The statements run inside the writer's open transaction, on the same
// pinned connection (conn, held by the writer for the store's life), by
// way of (*sql.Conn).Raw, so database/sql's bookkeeping of the
// connection stays right. Only the writer goroutine uses direct.
//
// The driver is given a context that never ends, so that it does not
// start a goroutine per statement; the batch's deadline is checked before
// each statement instead. A statement inside the write transaction does
// not wait for a lock (BEGIN IMMEDIATE took it), so it cannot hang on one.
type direct struct {
	conn               *sql.Conn
	insertMsg, saveSeq driver.Stmt // prepared on conn's driver connection

	args [11]driver.NamedValue // the arguments of the statement being run
	res  driver.Result         // its result
	st   driver.Stmt           // the statement being run
	n    int                   // with its first n args
	run  func(any) error       // runs st with args into res (made once: no closure per call)
}

// newDirect prepares the statements on conn's driver connection.
func newDirect(ctx context.Context, conn *sql.Conn) (*direct, error) {
	d := &direct{conn: conn}
	for i := range d.args {
		d.args[i].Ordinal = i + 1
	}
	err := conn.Raw(func(dc any) error {
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare with a context", dc)
		}
		for _, s := range []struct {
			st    *driver.Stmt
			query string
		}{{&d.insertMsg, insertMessageSQL}, {&d.saveSeq, saveSeqSQL}} {
			st, err := p.PrepareContext(ctx, s.query)
			if err != nil {
				return fmt.Errorf("prepare %q: %w", s.query, err)
			}
			if _, ok := st.(driver.StmtExecContext); !ok {
				_ = st.Close()
				return fmt.Errorf("driver statement %T cannot execute with a context", st)
			}
			*s.st = st
		}
		return nil
	})
	if err != nil {
		_ = d.close()
		return nil, fmt.Errorf("sqlite: direct statements: %w", err)
	}
	d.run = func(any) error {
		var err error
		d.res, err = d.st.(driver.StmtExecContext).ExecContext(context.Background(), d.args[:d.n])
		return err
	}
	return d, nil
}

// exec runs st with the first n of d.args (set by the caller) in the
// writer's open transaction, unless ctx — the batch's — has ended.
func (d *direct) exec(ctx context.Context, st driver.Stmt, n int) (driver.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.st, d.n = st, n
	err := d.conn.Raw(d.run)
	res := d.res
	d.st, d.res = nil, nil
	for i := range d.args {
		d.args[i].Value = nil // hold on to no message
	}
	return res, err
}

// insertMessage inserts m (with its seq set) and reports its id, or
// inserted false when the sender's client_id was seen before (the insert
// did nothing).
func (d *direct) insertMessage(ctx context.Context, m *pendingMessage) (id int64, inserted bool, err error) {
	a := &d.args
	a[0].Value, a[1].Value, a[2].Value, a[3].Value = m.Room, m.Seq, m.From, m.fromKey
	a[4].Value, a[5].Value, a[6].Value, a[7].Value = m.To, m.toKey, m.Text, m.HTML
	a[8].Value, a[9].Value, a[10].Value = m.mentions, m.ClientID, m.created
	res, err := d.exec(ctx, d.insertMsg, 11)
	if err != nil {
		return 0, false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, false, err
	}
	id, err = res.LastInsertId()
	return id, err == nil, err
}

// saveLastSeq writes a room's last seq (creating the room if needed).
func (d *direct) saveLastSeq(ctx context.Context, room string, last, now int64) error {
	d.args[0].Value, d.args[1].Value, d.args[2].Value = room, last, now
	_, err := d.exec(ctx, d.saveSeq, 3)
	return err
}

// close closes the statements and gives the connection back.
func (d *direct) close() error {
	var errs []error
	for _, st := range []driver.Stmt{d.insertMsg, d.saveSeq} {
		if st != nil {
			// A driver statement is closed on its connection, as it was made.
			errs = append(errs, d.conn.Raw(func(any) error { return st.Close() }))
		}
	}
	return errors.Join(append(errs, d.conn.Close())...)
}
