//go:build darwin && !cgo

package graph

import (
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// newPersistentCache: the macOS Keychain needs cgo; a binary cross-compiled without it
// keeps device-code tokens in memory (the caller warns).
func newPersistentCache(string) (azidentity.Cache, error) {
	return azidentity.Cache{}, errors.New("this build has no Keychain support (built without cgo)")
}
