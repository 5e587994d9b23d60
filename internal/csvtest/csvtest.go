// Package csvtest loads a CSV fixture into a SQL database, for tests that
// compare a database source with the CSV file it was made from. It reads
// the file with encoding/csv alone, so that no source under test builds its
// own expectations.
package csvtest

import (
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Execer is what MustLoad needs of a database: *sql.DB, *sqlx.DB.
type Execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

// Dialect is how a database spells the table MustLoad creates.
type Dialect struct {
	// ID is the definition of the first column, the primary key, e.g.
	// "id serial PRIMARY KEY".
	ID string
	// Type returns the type of the CSV column name.
	Type func(name string) string
	// Mark returns the placeholder of the i-th value (from 0) of an INSERT.
	Mark func(i int) string
}

// MustLoad creates a table processes in db, d.ID then one column per column
// of the CSV file at csvPath (its header row names them), and inserts the
// file's rows into it in file order; an empty value becomes NULL.
func MustLoad(tb testing.TB, db Execer, csvPath string, d Dialect) {
	tb.Helper()
	f, err := os.Open(csvPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var defs, marks []string
	for i, name := range recs[0] {
		defs = append(defs, name+" "+d.Type(name))
		marks = append(marks, d.Mark(i))
	}
	create := "CREATE TABLE processes (" + d.ID + ", " + strings.Join(defs, ", ") + ")"
	if _, err := db.Exec(create); err != nil {
		tb.Fatalf("%s: %v", create, err)
	}
	insert := fmt.Sprintf("INSERT INTO processes (%s) VALUES (%s)", strings.Join(recs[0], ", "), strings.Join(marks, ", "))
	for _, rec := range recs[1:] {
		args := make([]any, len(rec))
		for i, v := range rec {
			if v != "" {
				args[i] = v
			}
		}
		if _, err := db.Exec(insert, args...); err != nil {
			tb.Fatal(err)
		}
	}
}
