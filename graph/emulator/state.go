package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apimport/apimport/hwhash"
)

// Import status values (enum importedWindowsAutopilotDeviceIdentityImportStatus).
const (
	StatusUnknown  = "unknown"
	StatusPending  = "pending"
	StatusPartial  = "partial"
	StatusComplete = "complete"
	StatusError    = "error"
)

// Device error codes and names the emulator reports in importedWindowsAutopilotDeviceIdentityState.
const (
	ErrCodeInvalidHash     = 802 // InvalidZtdHardwareHash
	ErrCodeAlreadyAssigned = 806 // ZtdDeviceAlreadyAssigned
	ErrCodeDuplicated      = 807 // ZtdDeviceDuplicated
	ErrCodeOtherTenant     = 808 // ZtdDeviceAssignedToOtherTenant
	ErrCodeStorage         = 640 // StorageError
)

// ErrorName returns the deviceErrorName the emulator reports for code ("" for unknown codes).
func ErrorName(code int) string {
	switch code {
	case ErrCodeInvalidHash:
		return "InvalidZtdHardwareHash"
	case ErrCodeAlreadyAssigned:
		return "ZtdDeviceAlreadyAssigned"
	case ErrCodeDuplicated:
		return "ZtdDeviceDuplicated"
	case ErrCodeOtherTenant:
		return "ZtdDeviceAssignedToOtherTenant"
	case ErrCodeStorage:
		return "StorageError"
	}
	return ""
}

// ImportState is importedWindowsAutopilotDeviceIdentityState.
type ImportState struct {
	DeviceImportStatus   string `json:"deviceImportStatus"`
	DeviceRegistrationID string `json:"deviceRegistrationId"`
	DeviceErrorCode      int    `json:"deviceErrorCode"`
	DeviceErrorName      string `json:"deviceErrorName"`
}

// ImportedIdentity is an importedWindowsAutopilotDeviceIdentity plus the emulator's
// bookkeeping (CreatedAt, ProcessAt, PresetErrorCode), as held in State.
type ImportedIdentity struct {
	ID                        string      `json:"id"`
	GroupTag                  string      `json:"groupTag"`
	SerialNumber              string      `json:"serialNumber"`
	ProductKey                string      `json:"productKey"`
	ImportID                  string      `json:"importId"`
	HardwareIdentifier        []byte      `json:"hardwareIdentifier"`
	AssignedUserPrincipalName string      `json:"assignedUserPrincipalName"`
	State                     ImportState `json:"state"`
	// CreatedAt is when the record was created (emulator bookkeeping).
	CreatedAt time.Time `json:"createdAt"`
	// ProcessAt is when the verdict is decided; zero means CreatedAt + processing_delay.
	ProcessAt time.Time `json:"processAt"`
	// PresetErrorCode forces this verdict (807 for in-upload duplicates; seeds may set any code).
	PresetErrorCode int `json:"presetErrorCode,omitempty"`

	seq int64
}

// Device is a registered windowsAutopilotDeviceIdentity (v1.0 properties).
type Device struct {
	ID                           string    `json:"id"`
	DisplayName                  string    `json:"displayName"`
	GroupTag                     string    `json:"groupTag"`
	PurchaseOrderIdentifier      string    `json:"purchaseOrderIdentifier"`
	SerialNumber                 string    `json:"serialNumber"`
	ProductKey                   string    `json:"productKey"`
	Manufacturer                 string    `json:"manufacturer"`
	Model                        string    `json:"model"`
	EnrollmentState              string    `json:"enrollmentState"`
	LastContactedDateTime        time.Time `json:"lastContactedDateTime"`
	AddressableUserName          string    `json:"addressableUserName"`
	UserPrincipalName            string    `json:"userPrincipalName"`
	ResourceName                 string    `json:"resourceName"`
	SkuNumber                    string    `json:"skuNumber"`
	SystemFamily                 string    `json:"systemFamily"`
	AzureActiveDirectoryDeviceID string    `json:"azureActiveDirectoryDeviceId"`
	ManagedDeviceID              string    `json:"managedDeviceId"`
	// RegisteredAt is when the device was registered (emulator bookkeeping: profile
	// assignment counts from it); zero for seeded devices means the emulator's start.
	RegisteredAt time.Time `json:"registeredAt,omitzero"`

	seq int64
}

// AutopilotSettings is the beta windowsAutopilotSettings resource.
type AutopilotSettings struct {
	LastSyncDateTime              time.Time `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime time.Time `json:"lastManualSyncTriggerDateTime"`
	SyncStatus                    string    `json:"syncStatus"` // unknown|inProgress|completed|failed
}

// State is the emulated tenant's data: what Seed loads, what state_file holds.
type State struct {
	Registered         []Device           `json:"registered"`
	Imported           []ImportedIdentity `json:"imported"`
	OtherTenantSerials []string           `json:"other_tenant_serials"` // serials owned by another tenant (808)
	Settings           *AutopilotSettings `json:"settings,omitempty"`
	DirectoryState                        // Entra devices, groups, managed devices (directory.go)
}

// store is the in-memory tenant. All methods need Server.mu held.
type store struct {
	seq          int64
	imported     []*ImportedIdentity // by seq
	importedByID map[string]*ImportedIdentity
	pending      []*ImportedIdentity // by ProcessAt
	registered   []*Device           // by seq
	regByID      map[string]*Device
	regBySerial  map[string][]*Device // normalized serial
	otherTenant  map[string]bool
	settings     AutopilotSettings
	dir          *dirStore // Entra devices, groups, managed devices (directory.go)
}

func newStore() *store {
	return &store{
		importedByID: map[string]*ImportedIdentity{},
		regByID:      map[string]*Device{},
		regBySerial:  map[string][]*Device{},
		otherTenant:  map[string]bool{},
		settings:     AutopilotSettings{SyncStatus: "unknown"},
		dir:          newDirStore(),
	}
}

func normSerial(s string) string { return strings.ToUpper(strings.Trim(s, " \t\x00")) }

func (st *store) addDevice(d *Device) {
	st.seq++
	d.seq = st.seq
	st.registered = append(st.registered, d)
	st.regByID[d.ID] = d
	k := normSerial(d.SerialNumber)
	st.regBySerial[k] = append(st.regBySerial[k], d)
	st.linkDevice(d)
}

func (st *store) deleteDevice(id string) bool {
	d, ok := st.regByID[id]
	if !ok {
		return false
	}
	delete(st.regByID, id)
	i := sort.Search(len(st.registered), func(i int) bool { return st.registered[i].seq >= d.seq })
	if i < len(st.registered) && st.registered[i] == d {
		st.registered = slices.Delete(st.registered, i, i+1)
	}
	k := normSerial(d.SerialNumber)
	list := slices.DeleteFunc(st.regBySerial[k], func(x *Device) bool { return x == d })
	if len(list) == 0 {
		delete(st.regBySerial, k)
	} else {
		st.regBySerial[k] = list
	}
	return true
}

func (st *store) addImported(r *ImportedIdentity) {
	st.seq++
	r.seq = st.seq
	st.imported = append(st.imported, r)
	st.importedByID[r.ID] = r
	if !final(r.State.DeviceImportStatus) {
		// keep pending sorted by ProcessAt; appends are the common (already sorted) case
		i := sort.Search(len(st.pending), func(i int) bool { return st.pending[i].ProcessAt.After(r.ProcessAt) })
		st.pending = slices.Insert(st.pending, i, r)
	}
}

func (st *store) deleteImported(id string) bool {
	r, ok := st.importedByID[id]
	if !ok {
		return false
	}
	delete(st.importedByID, id)
	i := sort.Search(len(st.imported), func(i int) bool { return st.imported[i].seq >= r.seq })
	if i < len(st.imported) && st.imported[i] == r {
		st.imported = slices.Delete(st.imported, i, i+1)
	}
	// a pending entry is skipped when resolved (it is no longer in importedByID)
	return true
}

func final(status string) bool { return status == StatusComplete || status == StatusError }

// verdict decides the outcome of one import record. storageFault reports whether a 640
// is injected. It returns the device to register (nil on error).
func (st *store) verdict(r *ImportedIdentity, storageFault bool, newID func() string) {
	fail := func(code int) {
		r.State = ImportState{DeviceImportStatus: StatusError, DeviceErrorCode: code, DeviceErrorName: ErrorName(code)}
	}
	if r.PresetErrorCode != 0 {
		fail(r.PresetErrorCode)
		return
	}
	if storageFault {
		fail(ErrCodeStorage)
		return
	}
	h := hwhash.ParseBytes(r.HardwareIdentifier)
	id := h.Identity()
	if !h.Valid() || strings.TrimSpace(h.Info.Serial) == "" || strings.TrimSpace(h.Info.Manufacturer) == "" {
		fail(ErrCodeInvalidHash)
		return
	}
	serial := h.Info.Serial
	if st.otherTenant[normSerial(serial)] || st.otherTenant[normSerial(r.SerialNumber)] {
		fail(ErrCodeOtherTenant)
		return
	}
	for _, key := range []string{normSerial(serial), normSerial(r.SerialNumber)} {
		for _, d := range st.regBySerial[key] {
			if d.Manufacturer == "" || strings.EqualFold(strings.TrimSpace(d.Manufacturer), strings.TrimSpace(id.Manufacturer)) {
				fail(ErrCodeAlreadyAssigned)
				return
			}
		}
	}
	d := &Device{
		ID:                      newID(),
		GroupTag:                r.GroupTag,
		PurchaseOrderIdentifier: r.GroupTag,
		SerialNumber:            serial,
		ProductKey:              r.ProductKey,
		Manufacturer:            h.Info.Manufacturer,
		Model:                   h.Info.Model,
		SkuNumber:               h.Info.SKU,
		SystemFamily:            h.Info.Family,
		EnrollmentState:         "notContacted",
		UserPrincipalName:       r.AssignedUserPrincipalName,
		LastContactedDateTime:   time.Time{},
		RegisteredAt:            r.ProcessAt,
	}
	st.addDevice(d)
	r.State = ImportState{DeviceImportStatus: StatusComplete, DeviceRegistrationID: d.ID}
}

// snapshot copies the state (for Seed round trips and state_file).
func (st *store) snapshot() State {
	out := State{Registered: make([]Device, 0, len(st.registered)), Imported: make([]ImportedIdentity, 0, len(st.imported))}
	for _, d := range st.registered {
		out.Registered = append(out.Registered, *d)
	}
	for _, r := range st.imported {
		out.Imported = append(out.Imported, *r)
	}
	for s := range st.otherTenant {
		out.OtherTenantSerials = append(out.OtherTenantSerials, s)
	}
	sort.Strings(out.OtherTenantSerials)
	set := st.settings
	out.Settings = &set
	out.DirectoryState = st.dir.snapshot()
	return out
}

// load adds a State to the store; ids are generated where missing.
func (st *store) load(s State, delay time.Duration, now time.Time, newID func() string) error {
	if err := st.loadDirectory(s.DirectoryState); err != nil {
		return err
	}
	for i := range s.Registered {
		d := s.Registered[i]
		if d.ID == "" {
			d.ID = newID()
		}
		if _, dup := st.regByID[d.ID]; dup {
			return fmt.Errorf("registered[%d]: duplicate id %q", i, d.ID)
		}
		if d.EnrollmentState == "" {
			d.EnrollmentState = "notContacted"
		}
		st.addDevice(&d)
	}
	for i := range s.Imported {
		r := s.Imported[i]
		if r.ID == "" {
			r.ID = newID()
		}
		if _, dup := st.importedByID[r.ID]; dup {
			return fmt.Errorf("imported[%d]: duplicate id %q", i, r.ID)
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if r.State.DeviceImportStatus == "" {
			r.State.DeviceImportStatus = StatusUnknown
		}
		if r.ProcessAt.IsZero() {
			r.ProcessAt = r.CreatedAt.Add(delay)
		}
		st.addImported(&r)
	}
	for _, s := range s.OtherTenantSerials {
		st.otherTenant[normSerial(s)] = true
	}
	if s.Settings != nil {
		st.settings = *s.Settings
		if st.settings.SyncStatus == "" {
			st.settings.SyncStatus = "unknown"
		}
	}
	return nil
}

// ReadState reads a State JSON file (the seed format; see doc.go).
func ReadState(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("reading emulator state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: invalid emulator state: %w", path, err)
	}
	return s, nil
}

// writeFileAtomic writes data to path via a temporary file and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
