//go:build !darwin || cgo

package graph

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	azcache "github.com/Azure/azure-sdk-for-go/sdk/azidentity/cache"
)

// newPersistentCache opens the OS-protected token cache (DPAPI on Windows, the Keychain on
// macOS, the kernel keyring on Linux) for device-code sign-ins.
func newPersistentCache(name string) (azidentity.Cache, error) {
	return azcache.New(&azcache.Options{Name: name})
}
