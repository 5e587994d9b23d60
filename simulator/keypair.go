package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// NewKeyPair makes a service account's key pair for a simulator of one's
// own (the demo's): the public half for Config.PublicKey, the private half
// as the PEM a client reads (PKCS #8, not encrypted). It stays in memory.
func NewKeyPair() (*rsa.PublicKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("key pair: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("key pair: %w", err)
	}
	return &key.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
