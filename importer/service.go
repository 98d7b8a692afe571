// Package importer is the SDK-free import engine: the device state machine, the plan
// (dry run), the crash-safe journal, the result types and the Service interface that
// package graph implements. It imports neither the Graph SDK nor azidentity.
package importer

import (
	"context"
	"fmt"
	"time"
)

// Item is one device the engine registers: a valid input row, already checked and
// deduplicated by package mapping (one item per serial key).
type Item struct {
	File         string
	Line         int
	Serial       string
	GroupTag     string
	AssignedUser string // UPN, may be empty
	ProductKey   string // 13-digit PKID or ""
	Hardware     []byte // decoded hash bytes
	// LoadHardware, when Hardware is nil, reads the hash bytes (kept in a spill file
	// rather than memory for large imports); called when the item is posted.
	LoadHardware func() ([]byte, error)
	DisplayName  string // update runs only: the display name to set ("" leaves it)
	// Manufacturer and Model: corporate identifier runs (ModeCorporate) only, with Serial.
	Manufacturer string
	Model        string
}

// importItem is the payload of the item; the hash is read back (LoadHardware) when it
// is not held in memory.
func (it Item) importItem() (ImportItem, error) {
	hw := it.Hardware
	if hw == nil && it.LoadHardware != nil {
		var err error
		if hw, err = it.LoadHardware(); err != nil {
			return ImportItem{}, fmt.Errorf("%s:%d: %w", it.File, it.Line, err)
		}
	}
	return ImportItem{Serial: it.Serial, GroupTag: it.GroupTag, AssignedUser: it.AssignedUser, ProductKey: it.ProductKey, Hardware: hw}, nil
}

// hasHardware reports whether the item carries hash bytes (in memory or to load).
func (it Item) hasHardware() bool { return len(it.Hardware) > 0 || it.LoadHardware != nil }

// ImportItem is one device to submit through the import action.
type ImportItem struct {
	Serial       string
	GroupTag     string
	AssignedUser string // UPN, may be empty
	ProductKey   string // 13-digit PKID or ""
	Hardware     []byte // decoded hash bytes (Edm.Binary; the serializer base64-encodes them)
}

// Import status values of importedWindowsAutopilotDeviceIdentityState.deviceImportStatus.
const (
	ImportUnknown  = "unknown"
	ImportPending  = "pending"
	ImportPartial  = "partial"
	ImportComplete = "complete"
	ImportError    = "error"
)

// ImportRecord is an importedWindowsAutopilotDeviceIdentity as the service reports it.
type ImportRecord struct {
	ID             string
	Serial         string
	GroupTag       string
	AssignedUser   string
	ImportID       string
	Status         string // Import* constants; unknown/pending/partial are not final
	ErrorCode      int    // deviceErrorCode (0 when none)
	ErrorName      string // deviceErrorName
	RegistrationID string // deviceRegistrationId = windowsAutopilotDeviceIdentity id on success
}

// importStatus returns the package constant for a known status (one shared string
// instead of a copy per decoded record), else s.
func importStatus(s string) string {
	for _, c := range [...]string{ImportComplete, ImportError, ImportUnknown, ImportPending, ImportPartial} {
		if s == c {
			return c
		}
	}
	return s
}

// Final reports whether the record reached a terminal state (complete or error).
func (r ImportRecord) Final() bool { return r.Status == ImportComplete || r.Status == ImportError }

// AutopilotDevice is a registered windowsAutopilotDeviceIdentity.
type AutopilotDevice struct {
	ID                string
	Serial            string
	GroupTag          string
	UserPrincipalName string
	DisplayName       string
	Manufacturer      string
	Model             string
	EnrollmentState   string    // unknown|enrolled|pendingReset|failed|notContacted (beta: blocked)
	EntraDeviceID     string    // azureActiveDirectoryDeviceId (beta azureAdDeviceId)
	ManagedDeviceID   string    // the Intune managed device, when enrolled
	LastContact       time.Time // lastContactedDateTime
	ProfileStatus     string    // beta deploymentProfileAssignmentStatus ("" from v1.0)
	ProfileName       string    // beta, with $expand=deploymentProfile
	ProfileAssigned   time.Time // beta deploymentProfileAssignedDateTime
}

// ManagedDevice is an Intune managed device (v1.0 managedDevices).
type ManagedDevice struct {
	ID         string
	Serial     string
	DeviceName string
}

// DeviceUpdate is the body of updateDeviceProperties; nil fields are not sent.
type DeviceUpdate struct {
	GroupTag          *string
	UserPrincipalName *string
	DisplayName       *string
}

// SyncInfo is the beta windowsAutopilotSettings resource.
type SyncInfo struct {
	LastSync       time.Time
	LastManualSync time.Time
	Status         string // unknown|inProgress|completed|failed
}

// Stats counts what a Service sent.
type Stats struct {
	Requests  int // HTTP requests sent, retries included ($batch counts its inner requests)
	Writes    int // POST/PATCH/DELETE among them
	Throttled int // responses with status 429
	Retries   int
}

// Service is the Graph surface the import engine uses. The msgraph-sdk-go client
// implements it; every call shares one throttle budget and one retry policy.
type Service interface {
	// Import submits items with POST …/importedWindowsAutopilotDeviceIdentities/import and
	// returns one record per item, in item order.
	Import(ctx context.Context, items []ImportItem) ([]ImportRecord, error)
	// GetImported reads one import record; a missing record is ErrNotFound.
	GetImported(ctx context.Context, id string) (ImportRecord, error)
	// GetImportedMany reads several records (JSON batching, ≤20 a batch); missing ids are absent from the map.
	GetImportedMany(ctx context.Context, ids []string) (map[string]ImportRecord, error)
	// ListImported pages through every import record in the tenant; fn returns false to stop.
	ListImported(ctx context.Context, fn func(ImportRecord) bool) error
	// DeleteImported deletes one import record (204); a missing record is not an error.
	DeleteImported(ctx context.Context, id string) error
	// ListDevices pages through every registered Autopilot device; fn returns false to stop.
	ListDevices(ctx context.Context, fn func(AutopilotDevice) bool) error
	// FindDevices returns the registered devices whose serial equals serial exactly
	// (server-side contains() filter, exact match client-side).
	FindDevices(ctx context.Context, serial string) ([]AutopilotDevice, error)
	// UpdateDevice calls updateDeviceProperties.
	UpdateDevice(ctx context.Context, id string, u DeviceUpdate) error
	// DeleteDevice deregisters a windowsAutopilotDeviceIdentity (200 and 204 are
	// success; an unknown id, answered 400 "Cannot find device with ztd Id", is
	// ErrNotFound).
	DeleteDevice(ctx context.Context, id string) error
	// DeviceProfiles reads the profile fields (beta deploymentProfileAssignmentStatus,
	// the assigned profile's name) of registered devices by id; missing ids are absent.
	DeviceProfiles(ctx context.Context, ids []string) (map[string]AutopilotDevice, error)
	// EntraDeviceObject returns the object id of the Entra device with this deviceId
	// (an Autopilot device's azureActiveDirectoryDeviceId); ErrNotFound while it does
	// not exist yet.
	EntraDeviceObject(ctx context.Context, deviceID string) (string, error)
	// AddGroupMember adds a directory object to a group; already a member is success
	// (false), newly added is true.
	AddGroupMember(ctx context.Context, groupID, objectID string) (bool, error)
	// DeleteDevicesBulk calls the bulk deleteDevices action with serial numbers and
	// returns the deletionState per serial (unknown, failed, accepted, error). The
	// action's existence is UNCONFIRMED: an answer that says it does not exist wraps
	// ErrNotFound or is a 400.
	DeleteDevicesBulk(ctx context.Context, serials []string) (map[string]string, error)
	// UnassignUser calls unassignUserFromDevice (Microsoft's order: before deleting).
	UnassignUser(ctx context.Context, id string) error
	// FindManagedDevices returns the Intune managed devices with this serial.
	FindManagedDevices(ctx context.Context, serial string) ([]ManagedDevice, error)
	// DeleteManagedDevice deletes an Intune managed device (before deregistering).
	DeleteManagedDevice(ctx context.Context, id string) error
	// GetSyncInfo reads beta windowsAutopilotSettings.
	GetSyncInfo(ctx context.Context) (SyncInfo, error)
	// Sync calls beta windowsAutopilotSettings/sync: nil on 204, ErrSyncInProgress on
	// 409, ErrSyncTooSoon on a 429 when the last manual trigger is under 10 minutes
	// old; any other 429 is throttling, retried within ctx's deadline (ErrThrottled
	// when it runs out).
	Sync(ctx context.Context) error
	// SearchExistingIdentities calls beta importedDeviceIdentities/searchExistingIdentities
	// (a POST that only reads) for manufacturerModelSerial identifiers and returns the
	// identities the tenant already has among them.
	SearchExistingIdentities(ctx context.Context, identifiers []string) ([]DeviceIdentity, error)
	// ImportDeviceIdentityList calls beta importedDeviceIdentities/importDeviceIdentityList
	// and returns the service's importedDeviceIdentityResult per identifier it answered
	// for (Status true: accepted).
	ImportDeviceIdentityList(ctx context.Context, identifiers []string, overwrite bool) ([]DeviceIdentity, error)
	// Stats returns the counters so far.
	Stats() Stats
}
