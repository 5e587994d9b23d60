// Package pgtest gives tests a PostgreSQL database of their own, on the
// server that UNICO_TEST_POSTGRES names, and decides what a test does when
// there is none: it skips with a notice, or fails when
// UNICO_TEST_DISALLOW_SKIP=1 (as .ci/run sets), so that CI cannot pass by
// skipping. Its functions are safe for concurrent use.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/unico-reconcile/unico-reconcile/internal/csvtest"
)

// The environment variables the tests read.
const (
	// EnvDSN names a PostgreSQL server as a postgres:// URL whose role may
	// create databases, e.g.
	// postgres://unico_test:unico_test@127.0.0.1:5432/postgres?sslmode=disable.
	EnvDSN = "UNICO_TEST_POSTGRES"
	// EnvDisallowSkip, set to 1, turns every skip of an optional test into
	// a failure.
	EnvDisallowSkip = "UNICO_TEST_DISALLOW_SKIP"
)

// SkipUnlessAvailable is the one way an optional test gives up for lack of
// what it needs: it skips tb with why as the notice, or fails it when
// EnvDisallowSkip is 1.
func SkipUnlessAvailable(tb testing.TB, available bool, why string) {
	tb.Helper()
	if available {
		return
	}
	if os.Getenv(EnvDisallowSkip) == "1" {
		tb.Fatalf("%s, and %s=1 forbids skipping", why, EnvDisallowSkip)
	}
	tb.Skipf("SKIP (not run): %s", why)
}

// DSN returns the server's DSN, or skips (or fails) tb when EnvDSN is unset.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	SkipUnlessAvailable(tb, dsn != "", EnvDSN+" is not set: no PostgreSQL server to test against")
	return dsn
}

// MustDatabase creates a database of its own for tb on the server and
// returns its DSN; the database is dropped at cleanup.
func MustDatabase(tb testing.TB) string {
	tb.Helper()
	server := DSN(tb)
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("%s: not a URL", EnvDSN)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "unico_test_" + hex.EncodeToString(b[:])
	admin := MustOpen(tb, server)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// MustOpen opens dsn read-write (as an application would) and closes it at
// cleanup.
func MustOpen(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustExec runs stmts in the database dsn names.
func MustExec(tb testing.TB, dsn string, stmts ...string) {
	tb.Helper()
	db := MustOpen(tb, dsn)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
}

// MustRole creates a login role with a random password, for the test to
// check that the password is never shown, and returns it and the DSN of
// the database dsn names as that role; the role is dropped at cleanup.
// Call it before MustDatabase, so that the database (where the role may
// hold privileges) is dropped first.
func MustRole(tb testing.TB) (role, password string) {
	tb.Helper()
	admin := MustOpen(tb, DSN(tb))
	var b [12]byte
	_, _ = rand.Read(b[:])
	role = "unico_role_" + hex.EncodeToString(b[:4])
	password = "pw-" + hex.EncodeToString(b[4:])
	if _, err := admin.Exec("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'"); err != nil {
		tb.Fatalf("create role: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP ROLE IF EXISTS " + role); err != nil {
			tb.Errorf("drop role %s: %v", role, err)
		}
	})
	return role, password
}

// As returns dsn with role and password as its user information.
func As(dsn, role, password string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.User = url.UserPassword(role, password)
	return u.String()
}

// MustDatabaseFromCSV creates a database of its own for tb (MustDatabase)
// holding the rows of the CSV file at csvPath, in file order, in a table
// processes: an id serial primary key, then one text column per CSV column
// (a fixture's invalid values would not fit typed ones); an empty value
// becomes NULL. It returns the database's DSN.
func MustDatabaseFromCSV(tb testing.TB, csvPath string) string {
	tb.Helper()
	dsn := MustDatabase(tb)
	csvtest.MustLoad(tb, MustOpen(tb, dsn), csvPath, csvtest.Dialect{
		ID:   "id serial PRIMARY KEY",
		Type: func(string) string { return "text" },
		Mark: func(i int) string { return fmt.Sprintf("$%d", i+1) },
	})
	return dsn
}
