// Package keytest makes the service-account keys of tests (the root's
// end-to-end tests and fetch's): RSA keys, their PEM, and the lines of a
// PEM that are secret, for tests that check a key is never shown.
package keytest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// New returns a new 2048-bit RSA key. It panics when the system cannot
// give randomness, so that it can be made once, in a sync.OnceValue.
func New() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// PEM returns k as a PKCS #8 PEM block, as a service account's key file
// holds it.
func PEM(tb testing.TB, k *rsa.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Lines returns the base64 lines of a PEM block: each is a piece of the key
// that must never be shown.
func Lines(b []byte) []string {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return lines
}
